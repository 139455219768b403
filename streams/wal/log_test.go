package wal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRoundTripAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1 << 10}
	l, err := Open(dir, opts)
	require.NoError(t, err)

	var want [][]byte
	for i := 0; len(want) < 300; i++ {
		batch := [][]byte{payload("a", len(want), 10+i%200)}
		if i%3 == 0 {
			batch = append(batch, payload("a", len(want)+1, 0), payload("a", len(want)+2, 700))
		}
		first, err := l.Append(t.Context(), batch...)
		require.NoError(t, err)
		require.Equal(t, uint64(len(want)), first)
		want = append(want, batch...)
	}
	require.Equal(t, uint64(len(want)), l.NextSeq())
	require.Equal(t, uint64(len(want)), l.SyncedSeq())
	segs := l.Segments()
	require.Greater(t, len(segs), 10)
	requireContiguous(t, segs, 0, uint64(len(want)))

	for _, maxBytes := range []int{1, 100, 5000, 1 << 20} {
		got := readN(t, l, 0, len(want), maxBytes)
		for i, e := range got {
			require.Equal(t, uint64(i), e.Seq)
			require.Equal(t, want[i], e.Data, "seq %d", i)
		}
	}
	// A reader starting inside a segment.
	got := readN(t, l, 123, len(want)-123, 300)
	require.Equal(t, uint64(123), got[0].Seq)
	require.Equal(t, want[123], got[0].Data)
	st := l.Stats()
	require.NoError(t, l.Close())

	l = openLog(t, dir, opts)
	require.Equal(t, uint64(len(want)), l.NextSeq())
	require.Equal(t, withoutTimes(segs), withoutTimes(l.Segments()))
	st2 := l.Stats()
	require.Equal(t, st.Bytes, st2.Bytes)
	require.Equal(t, 0, st2.Repaired)
	first, err := l.Append(t.Context(), []byte("after reopen"))
	require.NoError(t, err)
	require.Equal(t, uint64(len(want)), first)
	got = readN(t, l, 0, len(want)+1, 4096)
	require.Equal(t, []byte("after reopen"), got[len(want)].Data)
	require.Equal(t, want[len(want)-1], got[len(want)-1].Data)
}

func withoutTimes(segs []SegmentInfo) []SegmentInfo {
	out := make([]SegmentInfo, len(segs))
	for i, s := range segs {
		s.ModTime = time.Time{}
		out[i] = s
	}
	return out
}

// requireContiguous checks invariant 3 on a segment listing.
func requireContiguous(t *testing.T, segs []SegmentInfo, first, next uint64) {
	t.Helper()
	require.Equal(t, first, segs[0].FirstSeq)
	for i := 1; i < len(segs); i++ {
		require.Equal(t, segs[i-1].NextSeq, segs[i].FirstSeq, "segment %d", i)
	}
	require.Equal(t, next, segs[len(segs)-1].NextSeq)
}

func TestFirstSeqOfNewLog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{FirstSeq: 1000})
	require.Equal(t, uint64(1000), l.NextSeq())
	require.Equal(t, uint64(1000), l.NewReader(3).Pos())
	first, err := l.Append(t.Context(), []byte("x"), []byte("y"))
	require.NoError(t, err)
	require.Equal(t, uint64(1000), first)
	require.NoError(t, l.Close())

	// FirstSeq is ignored for an existing log.
	l = openLog(t, dir, Options{FirstSeq: 5})
	require.Equal(t, uint64(1002), l.NextSeq())
	require.Equal(t, uint64(1000), l.Stats().FirstSeq)
}

func TestReopenKeepsBaseWhenOlderSegmentsDeleted(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 64}
	l, err := Open(dir, opts)
	require.NoError(t, err)
	for i := range 10 {
		_, err := l.Append(t.Context(), payload("b", i, 100))
		require.NoError(t, err)
	}
	removed, err := l.TruncateBefore(l.NextSeq())
	require.NoError(t, err)
	require.Positive(t, removed)
	segs := l.Segments()
	require.Len(t, segs, 1)
	require.Equal(t, uint64(9), segs[0].FirstSeq)
	require.NoError(t, l.Close())

	// Tear the only entry of the active segment: the name still gives
	// the base seq.
	require.NoError(t, os.Truncate(filepath.Join(dir, segmentName(9)), 7))
	l = openLog(t, dir, opts)
	require.Equal(t, uint64(9), l.NextSeq())
	require.Equal(t, 1, l.Stats().Repaired)
	first, err := l.Append(t.Context(), []byte("z"))
	require.NoError(t, err)
	require.Equal(t, uint64(9), first)
}

func TestReaderBlocksUntilSynced(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	r := l.NewReader(0)
	defer r.Close()
	requireCaughtUp(t, r)

	type result struct {
		ents []Entry
		err  error
	}
	started := make(chan struct{})
	res := make(chan result)
	go func() {
		close(started)
		ents, err := r.Next(t.Context(), 1<<20)
		res <- result{ents, err}
	}()
	<-started
	first, err := l.Append(t.Context(), []byte("hello"), []byte("world"))
	require.NoError(t, err)
	got := <-res
	require.NoError(t, got.err)
	require.NotEmpty(t, got.ents)
	require.Equal(t, Entry{Seq: first, Data: []byte("hello")}, got.ents[0])
	require.Equal(t, first+uint64(len(got.ents)), r.Pos())

	// Close wakes a blocked reader.
	r2 := l.NewReader(l.NextSeq())
	defer r2.Close()
	errc := make(chan error)
	go func() {
		_, err := r2.Next(context.Background(), 1)
		errc <- err
	}()
	require.NoError(t, l.Close())
	require.ErrorIs(t, <-errc, ErrClosed)
	_, err = l.Append(t.Context(), []byte("late"))
	require.ErrorIs(t, err, ErrClosed)
}

func TestWait(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	done := make(chan error)
	go func() { done <- l.Wait(t.Context(), 1) }()
	_, err := l.Append(t.Context(), []byte("0"), []byte("1"))
	require.NoError(t, err)
	require.NoError(t, <-done)
	require.Equal(t, uint64(2), l.SyncedSeq())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, l.Wait(ctx, 2), context.Canceled)
}

func TestConcurrentAppendsAreContiguous(t *testing.T) {
	const writers, perWriter = 16, 150
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 16 << 10})

	type rec struct {
		first uint64
		batch [][]byte
	}
	results := make([][]rec, writers)
	// A tailing reader runs during the appends and must only ever see
	// synced, contiguous entries.
	tailDone := make(chan error)
	total := 0
	for w := range writers {
		for i := range perWriter {
			total += 1 + (w+i)%3
		}
	}
	go func() {
		r := l.NewReader(0)
		defer r.Close()
		for next := uint64(0); next < uint64(total); {
			ents, err := r.Next(t.Context(), 3000)
			if err != nil {
				tailDone <- err
				return
			}
			for _, e := range ents {
				if e.Seq != next {
					tailDone <- fmt.Errorf("tail got seq %d, want %d", e.Seq, next)
					return
				}
				if e.Seq >= l.SyncedSeq() {
					tailDone <- fmt.Errorf("tail saw unsynced seq %d", e.Seq)
					return
				}
				next++
			}
		}
		tailDone <- nil
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				var batch [][]byte
				for j := range 1 + (w+i)%3 {
					batch = append(batch, payload(fmt.Sprintf("w%d-%d", w, j), i, 50+(w*i)%400))
				}
				first, err := l.Append(t.Context(), batch...)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				results[w] = append(results[w], rec{first, batch})
			}
		})
	}
	wg.Wait()
	require.NoError(t, <-tailDone)

	bySeq := make(map[uint64][]byte)
	for _, rs := range results {
		for _, r := range rs {
			for j, p := range r.batch {
				seq := r.first + uint64(j)
				_, dup := bySeq[seq]
				require.False(t, dup, "seq %d assigned twice", seq)
				bySeq[seq] = p
			}
		}
	}
	require.Len(t, bySeq, total)
	got := readN(t, l, 0, total, 64<<10)
	for i, e := range got {
		require.Equal(t, uint64(i), e.Seq)
		require.Equal(t, bySeq[e.Seq], e.Data, "seq %d", e.Seq)
	}
	st := l.Stats()
	require.Less(t, st.Syncs, uint64(writers*perWriter), "group commit shares fsyncs")
	requireContiguous(t, l.Segments(), 0, uint64(total))
}

func TestBackpressureHonoursContext(t *testing.T) {
	fsys := newFaultFS()
	gate := make(chan chan struct{})
	fsys.syncGate = gate
	l, err := Open(t.TempDir(), Options{FS: fsys, MaxPendingBytes: 1000})
	require.NoError(t, err)

	errs := make(chan error, 2)
	go func() { _, err := l.Append(context.Background(), make([]byte, 10)); errs <- err }()
	release1 := <-gate // the flusher is syncing the first batch
	go func() { _, err := l.Append(context.Background(), make([]byte, 900)); errs <- err }()
	for l.NextSeq() < 2 { // wait until the second Append is buffered
		runtime.Gosched()
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = l.Append(ctx, make([]byte, 200))
	require.ErrorIs(t, err, context.Canceled, "buffer is full: must wait and honour ctx")
	close(release1)
	close(<-gate) // second batch
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.NoError(t, l.Close())
	require.Equal(t, uint64(2), l.SyncedSeq())
}

func TestLog_AppendEncodedWritesInPlaceAndRejectsOversizeWhole(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{NoSync: true})
	first, err := l.AppendEncoded(t.Context(), 3, 6, func(dst []byte, i int) []byte {
		return append(dst, 'a'+byte(i), 'a'+byte(i))
	})
	require.NoError(t, err)
	require.Equal(t, uint64(0), first)

	_, err = l.AppendEncoded(t.Context(), 2, 10, func(dst []byte, i int) []byte {
		if i == 1 {
			return append(dst, make([]byte, MaxEntryBytes+1)...)
		}
		return append(dst, 'z')
	})
	require.Error(t, err, "an oversize payload fails the call")
	require.Equal(t, uint64(3), l.NextSeq(), "and nothing of it was appended")

	next, err := l.Append(t.Context(), []byte("dd"))
	require.NoError(t, err)
	require.Equal(t, uint64(3), next)
	r := l.NewReader(0)
	defer r.Close()
	var got []string
	for len(got) < 4 {
		ents, err := r.Next(t.Context(), 1<<20)
		require.NoError(t, err)
		for _, e := range ents {
			got = append(got, string(e.Data))
		}
	}
	require.Equal(t, []string{"aa", "bb", "cc", "dd"}, got)
}
