package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
)

// ErrReaderClosed is returned by Next after Reader.Close.
var ErrReaderClosed = errors.New("wal: reader closed")

// Reader is a cursor over the synced entries of a Log. It reads segment
// files with ReadAt, so memory stays flat however large the backlog. A
// Reader is not safe for concurrent use.
type Reader struct {
	l    *Log
	pos  uint64   // next seq to return
	seg  *segment // segment holding pos, nil until located
	f    File     // open file of seg
	off  int64    // file offset of the frame of pos in seg
	buf  []byte
	ents []Entry
	done bool
}

// NewReader returns a Reader positioned at max(from, first retained seq).
func (l *Log) NewReader(from uint64) *Reader {
	l.smu.Lock()
	defer l.smu.Unlock()
	return &Reader{l: l, pos: max(from, l.segs[0].base)}
}

// Pos returns the seq of the next entry this Reader will return.
func (r *Reader) Pos() uint64 { return r.pos }

// Close releases the Reader's file.
func (r *Reader) Close() error {
	r.done = true
	return r.dropSeg()
}

func (r *Reader) dropSeg() error {
	r.seg, r.off = nil, 0
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Next blocks until at least one synced entry at Pos is available or ctx is
// done (it then returns ctx.Err()). It returns consecutive entries with up to
// maxBytes of payload in total, and at least one entry even if it is
// bigger. Entry.Data aliases a buffer of the Reader that is valid until the
// next call. Next returns ErrClosed once the Log is closed. A synced frame
// that fails validation is skipped with the seqs it held (see the package
// doc, Damage), and Next continues at the next valid frame; only a segment
// file shorter than its synced size is an error wrapping ErrCorrupt.
func (r *Reader) Next(ctx context.Context, maxBytes int) ([]Entry, error) {
	if r.done {
		return nil, ErrReaderClosed
	}
	l := r.l
	for {
		l.smu.Lock()
		select {
		case <-l.closed:
			l.smu.Unlock()
			return nil, ErrClosed
		default:
		}
		if first := l.segs[0].base; r.pos < first || (r.seg != nil && r.seg.deleted) {
			// Our segment was deleted under us: continue at the first
			// retained entry.
			r.pos = max(r.pos, first)
			_ = r.dropSeg()
		}
		if r.pos >= l.synced {
			ch := l.syncedCh
			l.smu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-l.closed:
				return nil, ErrClosed
			case <-ch:
			}
			continue
		}
		var seg *segment
		if r.seg == nil || r.pos >= r.seg.next {
			i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > r.pos }) - 1
			seg = l.segs[i]
		}
		cur := r.seg
		if seg != nil {
			cur = seg
		}
		limit, base, segNext := cur.size, cur.base, cur.next
		l.smu.Unlock()

		if seg != nil {
			if err := r.openSeg(seg); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted meanwhile; the next round notices
				}
				return nil, err
			}
			if r.pos > base {
				if err := r.skipTo(limit, segNext, r.pos); err != nil {
					return nil, err
				}
			}
		}
		ents, err := r.read(limit, segNext, maxBytes, math.MaxUint64)
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 {
			continue // damaged bytes were skipped: locate Pos again
		}
		return ents, nil
	}
}

func (r *Reader) openSeg(seg *segment) error {
	_ = r.dropSeg()
	f, err := r.l.fs.OpenFile(r.l.path(seg.base), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: open segment for reading: %w", err)
	}
	r.seg, r.f, r.off = seg, f, 0
	return nil
}

// skipTo walks the frames of the current segment from its start up to the
// frame of seq target, or the first one after it if target was lost to
// damage.
func (r *Reader) skipTo(limit int64, segNext, target uint64) error {
	r.pos = r.seg.base
	for r.pos < target && r.pos < segNext {
		if _, err := r.read(limit, segNext, 1<<20, target); err != nil {
			return err
		}
	}
	return nil
}

// read decodes frames at r.off, not beyond limit (the synced size) and
// segNext (the seq after the segment's last synced entry), with up to
// maxBytes of payload (at least one frame) and stopping before seq stop.
// It advances r.pos and r.off. It returns no entry if r.pos is at segNext
// or if it skipped damaged bytes at r.off (see skipDamage).
func (r *Reader) read(limit int64, segNext uint64, maxBytes int, stop uint64) ([]Entry, error) {
	if r.pos >= segNext {
		return nil, nil
	}
	avail := limit - r.off
	n := min(avail, int64(max(maxBytes, 1))+HeaderBytes)
	if n < HeaderBytes {
		return nil, r.skipDamage(limit, segNext, fmt.Errorf("%w: %d bytes left, need a header", ErrCorrupt, avail))
	}
	if err := r.fill(int(n)); err != nil {
		return nil, err
	}
	r.ents = r.ents[:0]
	total := 0
	for b := r.buf; r.pos < stop; {
		payload, size, err := decodeFrame(b, r.pos)
		if errors.Is(err, errIncomplete) && len(r.ents) == 0 {
			// The first frame is bigger than the buffer: read all of it.
			plen, _ := peekLength(b)
			if int64(frameSize(plen)) > avail {
				return nil, r.skipDamage(limit, segNext, fmt.Errorf("%w: frame of %d bytes overruns segment", ErrCorrupt, plen))
			}
			if err := r.fill(frameSize(plen)); err != nil {
				return nil, err
			}
			b = r.buf
			continue
		}
		if errors.Is(err, errIncomplete) {
			break
		}
		if err != nil {
			if len(r.ents) > 0 {
				break // return these first; the next call skips the damage
			}
			return nil, r.skipDamage(limit, segNext, err)
		}
		if len(r.ents) > 0 && total+len(payload) > maxBytes {
			break
		}
		r.ents = append(r.ents, Entry{Seq: r.pos, Data: payload})
		total += len(payload)
		r.pos++
		r.off += int64(size)
		b = b[size:]
	}
	return r.ents, nil
}

// skipDamage moves past the damaged frame at r.off, which why describes,
// to the next valid frame of the segment (see resync; seqs must stay below
// segNext and bytes below limit) or, if there is none, to the end of the
// segment's synced part. The Log counts and quarantines the skipped bytes.
// Only I/O errors are returned.
func (r *Reader) skipDamage(limit int64, segNext uint64, why error) error {
	at, seq, ok, err := resync(r.f, r.off, limit, r.pos, segNext)
	if err != nil {
		return fmt.Errorf("wal: segment %s: %w", segmentName(r.seg.base), err)
	}
	if !ok {
		at, seq = limit, segNext
	}
	r.l.noteDamage(r.f, r.seg.base, damage{off: r.off, end: at, want: r.pos, next: seq, why: r.corrupt(why)})
	r.off, r.pos = at, seq
	return nil
}

// fill reads n bytes at r.off into r.buf.
func (r *Reader) fill(n int) error {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	got, err := r.f.ReadAt(r.buf, r.off)
	if got == n {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: segment shorter than its synced size", ErrCorrupt)
		return r.corrupt(err)
	}
	return fmt.Errorf("wal: read segment %s at %d: %w", segmentName(r.seg.base), r.off, err)
}

func (r *Reader) corrupt(err error) error {
	return fmt.Errorf("wal: segment %s offset %d seq %d: %w", segmentName(r.seg.base), r.off, r.pos, err)
}
