package wal

import (
	"errors"
	"fmt"
	"io/fs"
)

// Errors of DeleteSegment.
var (
	// ErrActiveSegment reports an attempt to delete the active segment.
	ErrActiveSegment = errors.New("wal: cannot delete the active segment")
	// ErrNotOldest reports an attempt to delete a segment other than the
	// oldest, which would leave a gap in the seqs (invariant 3).
	ErrNotOldest = errors.New("wal: only the oldest segment can be deleted")
)

// Segments describes the retained segments, oldest first; the last one is
// the active segment. Retention by age uses ModTime.
func (l *Log) Segments() []SegmentInfo {
	l.smu.Lock()
	defer l.smu.Unlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = SegmentInfo{FirstSeq: s.base, NextSeq: s.next, Bytes: s.size, ModTime: s.modTime}
	}
	return out
}

// TruncateBefore deletes the whole segments all of whose entries are below
// seq, oldest first, and never the active segment. It returns the number of
// bytes removed. Readers positioned in a removed segment continue at the
// first retained entry.
func (l *Log) TruncateBefore(seq uint64) (removedBytes int64, err error) {
	l.dmu.Lock()
	defer l.dmu.Unlock()
	removed := 0
	for {
		l.smu.Lock()
		ok := len(l.segs) > 1 && l.segs[0].next <= seq
		var base uint64
		if ok {
			base = l.segs[0].base
		}
		l.smu.Unlock()
		if !ok {
			break
		}
		n, err := l.removeOldest(base)
		if err != nil {
			return removedBytes, err
		}
		removedBytes += n
		removed++
	}
	if removed > 0 {
		if err := l.syncDir(l.dir); err != nil {
			return removedBytes, err
		}
	}
	return removedBytes, nil
}

// DeleteSegment deletes the segment starting at firstSeq, which must be the
// oldest and not the active one (for retention by age, which deletes
// oldest first). Readers positioned in it move to the next segment.
func (l *Log) DeleteSegment(firstSeq uint64) error {
	l.dmu.Lock()
	defer l.dmu.Unlock()
	l.smu.Lock()
	var err error
	switch last := l.segs[len(l.segs)-1]; {
	case last.base == firstSeq:
		err = ErrActiveSegment
	case l.segs[0].base != firstSeq:
		err = ErrNotOldest
		found := false
		for _, s := range l.segs {
			found = found || s.base == firstSeq
		}
		if !found {
			err = fs.ErrNotExist
		}
	}
	l.smu.Unlock()
	if err != nil {
		return fmt.Errorf("wal: delete segment %s: %w", segmentName(firstSeq), err)
	}
	if _, err := l.removeOldest(firstSeq); err != nil {
		return err
	}
	return l.syncDir(l.dir)
}

// removeOldest forgets the oldest segment, which starts at base, and then
// removes its file. Forgetting first means no Reader opens a file that is
// about to vanish; if the removal fails the file reappears at the next Open
// as the oldest segment, which is harmless. The caller holds dmu.
func (l *Log) removeOldest(base uint64) (int64, error) {
	l.smu.Lock()
	s := l.segs[0]
	s.deleted = true
	l.segs[0] = nil
	l.segs = l.segs[1:]
	l.smu.Unlock()
	if err := l.fs.Remove(l.path(base)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("wal: remove segment: %w", err)
	}
	return s.size, nil
}
