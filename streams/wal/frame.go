package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

const (
	// HeaderBytes is the size of a frame header: length, CRC and seq.
	HeaderBytes = 16
	// MaxEntryBytes bounds one payload, so a garbage length read from a
	// damaged file can never make a reader allocate gigabytes.
	MaxEntryBytes = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt reports a frame that fails validation (length, CRC or seq).
var ErrCorrupt = errors.New("wal: corrupt entry")

// errIncomplete reports that a buffer ends inside a frame.
var errIncomplete = errors.New("wal: incomplete frame")

// frameSize is the on-disk size of an entry with n payload bytes.
func frameSize(n int) int { return HeaderBytes + n }

// appendFrame appends the frame of (seq, payload) to dst.
func appendFrame(dst []byte, seq uint64, payload []byte) []byte {
	dst, _ = appendFrameFunc(dst, seq, func(d []byte) []byte { return append(d, payload...) })
	return dst
}

// appendFrameFunc appends a frame whose payload enc appends in place, so a
// caller's encoding lands in the log's buffer without an intermediate copy.
// It returns the payload length; over MaxEntryBytes dst is returned
// unchanged with an error.
func appendFrameFunc(dst []byte, seq uint64, enc func([]byte) []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderBytes)...)
	dst = enc(dst)
	h, payload := dst[start:start+HeaderBytes], dst[start+HeaderBytes:]
	if len(payload) > MaxEntryBytes {
		return dst[:start], fmt.Errorf("wal: payload is %d bytes, max %d", len(payload), MaxEntryBytes)
	}
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	crc := crc32.Update(0, castagnoli, h[8:16])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	return dst, nil
}

// peekLength returns the payload length announced by the header at the
// start of b, which must hold at least HeaderBytes. It returns ErrCorrupt if
// the length exceeds MaxEntryBytes.
func peekLength(b []byte) (int, error) {
	n := binary.LittleEndian.Uint32(b[0:4])
	if n > MaxEntryBytes {
		return 0, fmt.Errorf("%w: length %d exceeds %d", ErrCorrupt, n, MaxEntryBytes)
	}
	return int(n), nil
}

// decodeFrame decodes the frame at the start of b, which must carry seq
// want. It returns the payload (aliasing b) and the frame size, errIncomplete
// if b ends inside the frame, or an error wrapping ErrCorrupt.
func decodeFrame(b []byte, want uint64) (payload []byte, size int, err error) {
	if len(b) < HeaderBytes {
		return nil, 0, errIncomplete
	}
	n, err := peekLength(b)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < HeaderBytes+n {
		return nil, 0, errIncomplete
	}
	crc := crc32.Update(0, castagnoli, b[8:HeaderBytes+n])
	if got := binary.LittleEndian.Uint32(b[4:8]); got != crc {
		return nil, 0, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorrupt, got, crc)
	}
	if seq := binary.LittleEndian.Uint64(b[8:16]); seq != want {
		return nil, 0, fmt.Errorf("%w: seq %d, expected %d", ErrCorrupt, seq, want)
	}
	return b[HeaderBytes : HeaderBytes+n], HeaderBytes + n, nil
}

// scanResult is what scanSegment found in a segment file.
type scanResult struct {
	next  uint64 // seq after the last valid entry
	valid int64  // bytes of the complete, valid prefix
	err   error  // why the scan stopped before size (nil at a clean end)
}

// scanSegment validates the frames of a segment whose first seq is base and
// whose file is size bytes long. It stops at the first incomplete or invalid
// frame. Only I/O errors are returned as error; damage is in res.err.
func scanSegment(r io.ReaderAt, size int64, base uint64) (res scanResult, err error) {
	return scanFrom(r, 0, size, base)
}

// scanFrom is scanSegment starting at file offset start, where the frame of
// seq first is expected.
func scanFrom(r io.ReaderAt, start, size int64, first uint64) (res scanResult, err error) {
	const chunk = 1 << 20
	res.next, res.valid = first, start
	buf := make([]byte, 0, chunk)
	bufOff := start // file offset of buf[0]
	for res.valid < size {
		// Refill so that buf starts at res.valid and holds at least one
		// whole frame if the file has it.
		rel := int(res.valid - bufOff)
		if rel > 0 {
			buf = buf[:copy(buf, buf[rel:])]
			bufOff = res.valid
		}
		_, derr := fillFrame(r, &buf, bufOff, size, chunk)
		if derr != nil {
			return res, derr
		}
		_, n, ferr := decodeFrame(buf, res.next)
		if ferr != nil {
			if errors.Is(ferr, errIncomplete) {
				ferr = fmt.Errorf("%w: torn frame at end of file", ErrCorrupt)
			}
			res.err = ferr
			return res, nil
		}
		res.valid += int64(n)
		res.next++
		buf = buf[n:]
		bufOff = res.valid
	}
	return res, nil
}

// fillFrame makes *buf (holding file bytes from off) contain the whole frame
// at its start, if the file [off, size) has it, reading at least minRead
// bytes at a time. It returns how many bytes it read.
func fillFrame(r io.ReaderAt, buf *[]byte, off, size int64, minRead int) (int, error) {
	need := HeaderBytes
	if len(*buf) >= HeaderBytes {
		n, err := peekLength(*buf)
		if err != nil {
			return 0, nil // the caller's decode reports it
		}
		need = HeaderBytes + n
	}
	total := 0
	for len(*buf) < need {
		have := off + int64(len(*buf))
		if have >= size {
			return total, nil
		}
		want := max(need-len(*buf), minRead)
		want = int(min(int64(want), size-have))
		b := *buf
		if cap(b)-len(b) < want {
			nb := make([]byte, len(b), len(b)+want)
			copy(nb, b)
			b = nb
		}
		n, err := r.ReadAt(b[len(b):len(b)+want], have)
		b = b[:len(b)+n]
		*buf = b
		total += n
		if err != nil && !(errors.Is(err, io.EOF) && n == want) {
			if errors.Is(err, io.EOF) {
				return total, nil // file shorter than size: torn
			}
			return total, fmt.Errorf("wal: read at %d: %w", have, err)
		}
		if len(b) >= HeaderBytes && need == HeaderBytes {
			n, err := peekLength(b)
			if err != nil {
				return total, nil
			}
			need = HeaderBytes + n
		}
	}
	return total, nil
}

// damage is a damaged region of a segment that valid frames follow: bytes
// [off, end) are skipped and seqs [want, next) are lost.
type damage struct {
	off, end   int64
	want, next uint64
	why        error
}

// repairResult is what scanRepair found in the active segment.
type repairResult struct {
	next    uint64   // seq after the last valid entry
	valid   int64    // end of the last valid frame: the file is cut here
	damage  []damage // regions skipped, in file order
	tailErr error    // why the bytes from valid on are a torn tail
}

// scanRepair scans the active segment at Open. Damage that a valid frame
// follows (see resync) is skipped and reported; damage with no valid frame
// after it is a torn tail, reported by valid < size.
func scanRepair(r io.ReaderAt, size int64, base uint64) (repairResult, error) {
	var out repairResult
	off, seq := int64(0), base
	for {
		res, err := scanFrom(r, off, size, seq)
		if err != nil {
			return out, err
		}
		out.next, out.valid = res.next, res.valid
		if res.err == nil {
			return out, nil
		}
		at, s, ok, err := resync(r, res.valid, size, res.next, math.MaxUint64)
		if err != nil {
			return out, err
		}
		if !ok {
			out.tailErr = res.err
			return out, nil
		}
		out.damage = append(out.damage, damage{off: res.valid, end: at, want: res.next, next: s, why: res.err})
		off, seq = at, s
	}
}

// resync finds the first valid frame after damage at offset dmg of a
// segment of size bytes, where the frame of seq want was expected. It scans
// forward byte by byte from dmg+1 and accepts the first offset at where
//
//   - the header's length is at most MaxEntryBytes and the frame ends
//     within size,
//   - its seq s satisfies want <= s < limit and s-want <= (at-dmg)/HeaderBytes
//     (the s-want lost frames took at least HeaderBytes each of the damaged
//     bytes; a lower seq is stale data, not a continuation),
//   - and the CRC-32C over seq and payload matches.
//
// A false match needs 32 bits of CRC to agree by chance on bytes whose seq
// field already lies in a narrow window, so it is practically impossible for
// random damage. It returns the frame's offset and seq, or ok false if no
// frame qualifies. Only I/O errors are returned as err.
func resync(r io.ReaderAt, dmg, size int64, want, limit uint64) (at int64, seq uint64, ok bool, err error) {
	const chunk = 1 << 20
	buf := make([]byte, chunk+HeaderBytes)
	for pos := dmg + 1; pos+HeaderBytes <= size; {
		b := buf[:min(int64(len(buf)), size-pos)]
		n, rerr := r.ReadAt(b, pos)
		if n < len(b) {
			if rerr == nil || errors.Is(rerr, io.EOF) {
				size = pos + int64(n) // the file is shorter than size
				b = b[:n]
			} else {
				return 0, 0, false, fmt.Errorf("wal: read at %d: %w", pos, rerr)
			}
		}
		for i := 0; i+HeaderBytes <= len(b); i++ {
			at := pos + int64(i)
			h := b[i:]
			plen := int64(binary.LittleEndian.Uint32(h[0:4]))
			if plen > MaxEntryBytes || at+HeaderBytes+plen > size {
				continue
			}
			s := binary.LittleEndian.Uint64(h[8:16])
			if s < want || s >= limit || s-want > uint64((at-dmg)/HeaderBytes) {
				continue
			}
			fb := h
			if int64(len(fb)) < HeaderBytes+plen {
				fb = make([]byte, HeaderBytes+plen)
				if n, err := r.ReadAt(fb, at); n < len(fb) {
					if err != nil && !errors.Is(err, io.EOF) {
						return 0, 0, false, fmt.Errorf("wal: read at %d: %w", at, err)
					}
					continue
				}
			}
			if _, _, err := decodeFrame(fb, s); err == nil {
				return at, s, true, nil
			}
		}
		if len(b) < HeaderBytes {
			break
		}
		pos += int64(len(b) - HeaderBytes + 1)
	}
	return 0, 0, false, nil
}
