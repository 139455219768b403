package wal

import (
	"io/fs"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// fillSegments appends entries of 100 bytes until the log has n segments.
func fillSegments(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := 0; len(l.Segments()) < n; i++ {
		_, err := l.Append(t.Context(), payload("s", i, 100), payload("s", i+1, 100))
		require.NoError(t, err)
	}
}

func TestTruncateBeforeKeepsActiveSegment(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentBytes: 300})
	fillSegments(t, l, 5)
	segs := l.Segments()

	// A reader positioned in the first segment.
	r := l.NewReader(1)
	defer r.Close()
	ents, err := r.Next(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, uint64(1), ents[0].Seq)

	removed, err := l.TruncateBefore(segs[2].FirstSeq + 1) // inside segment 2: keeps it
	require.NoError(t, err)
	require.Equal(t, segs[0].Bytes+segs[1].Bytes, removed)
	require.Equal(t, withoutTimes(segs[2:]), withoutTimes(l.Segments()))
	require.Equal(t, segs[2].FirstSeq, l.Stats().FirstSeq)
	for _, s := range segs[:2] {
		_, err := os.Stat(l.path(s.FirstSeq))
		require.ErrorIs(t, err, fs.ErrNotExist)
	}

	// The reader skips the deleted segments.
	ents, err = r.Next(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, segs[2].FirstSeq, ents[0].Seq)

	// Never the active segment, however large seq is.
	_, err = l.TruncateBefore(^uint64(0))
	require.NoError(t, err)
	require.Equal(t, withoutTimes(segs[4:]), withoutTimes(l.Segments()))
	next := l.NextSeq()
	require.NoError(t, l.Close())
	l = openLog(t, dir, Options{SegmentBytes: 300})
	require.Equal(t, next, l.NextSeq())
	require.Equal(t, segs[4].FirstSeq, l.Stats().FirstSeq)
}

func TestDeleteSegment(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 300})
	fillSegments(t, l, 4)
	segs := l.Segments()

	r := l.NewReader(segs[0].FirstSeq + 1)
	defer r.Close()
	_, err := r.Next(t.Context(), 1)
	require.NoError(t, err)

	require.ErrorIs(t, l.DeleteSegment(segs[3].FirstSeq), ErrActiveSegment)
	require.ErrorIs(t, l.DeleteSegment(segs[2].FirstSeq), ErrNotOldest)
	require.ErrorIs(t, l.DeleteSegment(segs[0].FirstSeq+1), fs.ErrNotExist)
	require.NoError(t, l.DeleteSegment(segs[0].FirstSeq))
	require.NoError(t, l.DeleteSegment(segs[1].FirstSeq))
	require.Equal(t, withoutTimes(segs[2:]), withoutTimes(l.Segments()))

	ents, err := r.Next(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, segs[2].FirstSeq, ents[0].Seq, "reader moves to the next retained segment")
	require.Equal(t, segs[2].FirstSeq, l.NewReader(0).Pos())
	require.ErrorIs(t, l.DeleteSegment(segs[3].FirstSeq), ErrActiveSegment)
	require.Len(t, l.Segments(), 2)
}
