package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
	const chunk = 1 << 20
	res.next = base
	buf := make([]byte, 0, chunk)
	var bufOff int64 // file offset of buf[0]
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
