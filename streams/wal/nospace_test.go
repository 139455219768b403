package wal

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireNoTornTail asserts that the active segment on disk holds exactly
// its synced bytes: nothing of a failed write is left behind.
func requireNoTornTail(t *testing.T, dir string, l *Log) {
	t.Helper()
	segs := l.Segments()
	last := segs[len(segs)-1]
	info, err := os.Stat(l.path(last.FirstSeq))
	require.NoError(t, err)
	require.Equal(t, last.Bytes, info.Size(), "active segment holds unsynced bytes")
}

// A full disk or quota is weather: the appends in flight fail with
// ErrNoSpace, nothing of them stays in the segment, and once space is back
// appends succeed again with the seqs that follow the last synced entry.
func TestNoSpaceIsRecoverable(t *testing.T) {
	tests := []struct {
		name   string
		inject func(f *faultFS, at int64)
		clear  func(f *faultFS)
		cause  error
	}{
		{"ENOSPC mid frame", func(f *faultFS, at int64) { f.setWriteFault(at+HeaderBytes+3, syscall.ENOSPC) },
			func(f *faultFS) { f.setWriteFault(-1, nil) }, syscall.ENOSPC},
		{"ENOSPC in second frame", func(f *faultFS, at int64) { f.setWriteFault(at+HeaderBytes+120, syscall.ENOSPC) },
			func(f *faultFS) { f.setWriteFault(-1, nil) }, syscall.ENOSPC},
		{"ENOSPC at frame boundary", func(f *faultFS, at int64) { f.setWriteFault(at, syscall.ENOSPC) },
			func(f *faultFS) { f.setWriteFault(-1, nil) }, syscall.ENOSPC},
		{"EDQUOT", func(f *faultFS, at int64) { f.setWriteFault(at+7, syscall.EDQUOT) },
			func(f *faultFS) { f.setWriteFault(-1, nil) }, syscall.EDQUOT},
		{"ENOSPC on fdatasync", func(f *faultFS, _ int64) {
			err := error(syscall.ENOSPC)
			f.syncErr.Store(&err)
		}, func(f *faultFS) { f.syncErr.Store(nil) }, syscall.ENOSPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			l, want := openFive(t, dir, Options{FS: fsys, ProbeInterval: time.Hour})
			r := l.NewReader(0)
			defer r.Close()
			readAllFrom(t, r, len(want))
			require.NoError(t, l.Fault())

			tt.inject(fsys, l.Stats().Bytes)
			for range 3 {
				_, err := l.Append(t.Context(), payload("bad", 0, 100), payload("bad", 1, 100))
				require.ErrorIs(t, err, ErrNoSpace)
				require.ErrorIs(t, err, tt.cause)
				require.ErrorIs(t, l.Fault(), ErrNoSpace)
				require.Equal(t, uint64(len(want)), l.SyncedSeq())
				require.Equal(t, uint64(len(want)), l.NextSeq(), "failed seqs are given again")
				requireNoTornTail(t, dir, l)
				requireCaughtUp(t, r)
			}
			require.NoError(t, l.Wait(t.Context(), uint64(len(want))-1))

			// Space is back: no reopen needed, seqs continue without a gap.
			tt.clear(fsys)
			for i := range 3 {
				p := payload("later", i, 100)
				first, err := l.Append(t.Context(), p)
				require.NoError(t, err)
				require.Equal(t, uint64(len(want)), first)
				want = append(want, p)
			}
			require.NoError(t, l.Fault())
			readAllFrom(t, r, 3)
			got := readN(t, l, 0, len(want), 1<<20)
			for i, e := range got {
				require.Equal(t, uint64(i), e.Seq)
				require.Equal(t, want[i], e.Data)
			}
			require.NoError(t, l.Close())

			// Nothing to repair at reopen: the failed bytes were cut.
			l = openLog(t, dir, Options{FS: fsys})
			require.Zero(t, l.Stats().Repaired)
			require.Equal(t, uint64(len(want)), l.NextSeq())
			got = readN(t, l, 0, len(want), 1<<20)
			for i, e := range got {
				require.Equal(t, want[i], e.Data)
			}
		})
	}
}

// Concurrent appends while the disk fills and empties again: every
// acknowledged entry reads back at its seq, the log holds nothing else and
// its seqs have no gap.
func TestNoSpaceConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	l, err := Open(dir, Options{FS: fsys, SegmentBytes: 4 << 10, MaxPendingBytes: 2 << 10, ProbeInterval: time.Millisecond})
	require.NoError(t, err)

	var (
		mu    sync.Mutex
		acked = map[uint64][]byte{}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
		nfail int
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a, b := payload(fmt.Sprintf("w%d-a", w), i, 50), payload(fmt.Sprintf("w%d-b", w), i, 70)
				first, err := l.Append(t.Context(), a, b)
				mu.Lock()
				if err != nil {
					if !assertNoSpace(t, err) {
						mu.Unlock()
						return
					}
					nfail++
				} else {
					if _, dup := acked[first]; dup {
						t.Errorf("seq %d acknowledged twice", first)
					}
					acked[first], acked[first+1] = a, b
				}
				mu.Unlock()
			}
		})
	}
	for round := range 6 {
		time.Sleep(10 * time.Millisecond)
		segs := l.Segments()
		fsys.setWriteFault(segs[len(segs)-1].Bytes+int64(round*37%200), syscall.ENOSPC)
		time.Sleep(10 * time.Millisecond)
		fsys.setWriteFault(-1, nil)
	}
	time.Sleep(10 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.NotZero(t, nfail, "the fault never hit an append")
	require.NoError(t, l.Close())

	l = openLog(t, dir, Options{FS: fsys})
	require.Zero(t, l.Stats().Repaired)
	n := int(l.NextSeq())
	require.Len(t, acked, n, "the log holds exactly the acknowledged entries")
	for _, e := range readN(t, l, 0, n, 1<<20) {
		require.Equal(t, acked[e.Seq], e.Data, "seq %d", e.Seq)
	}
}

func assertNoSpace(t *testing.T, err error) bool {
	t.Helper()
	if !errors.Is(err, ErrNoSpace) {
		t.Errorf("append failed with %v, want ErrNoSpace", err)
		return false
	}
	return true
}

// An idle log notices by itself that space is back: Fault clears without
// an append.
func TestNoSpaceProbeClearsFault(t *testing.T) {
	fsys := newFaultFS()
	l := openLog(t, t.TempDir(), Options{FS: fsys, ProbeInterval: 5 * time.Millisecond})
	_, err := l.Append(t.Context(), []byte("a"))
	require.NoError(t, err)
	fsys.setWriteFault(0, syscall.ENOSPC) // every file is full
	_, err = l.Append(t.Context(), []byte("b"))
	require.ErrorIs(t, err, ErrNoSpace)
	time.Sleep(30 * time.Millisecond) // probes fail meanwhile
	require.ErrorIs(t, l.Fault(), syscall.ENOSPC)
	fsys.setWriteFault(-1, nil)
	require.Eventually(t, func() bool { return l.Fault() == nil }, 5*time.Second, time.Millisecond)
	_, statErr := os.Stat(l.dir + "/" + probeName)
	require.ErrorIs(t, statErr, os.ErrNotExist, "the probe file is removed")
	first, err := l.Append(t.Context(), []byte("c"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), first)
}

// A roll that cannot create the next segment for space fails the append;
// the next one creates it.
func TestNoSpaceOnRolloverIsRecoverable(t *testing.T) {
	fsys := newFaultFS()
	dir := t.TempDir()
	l := openLog(t, dir, Options{FS: fsys, SegmentBytes: 100, ProbeInterval: time.Hour})
	_, err := l.Append(t.Context(), make([]byte, 200))
	require.NoError(t, err)
	fsys.mu.Lock()
	fsys.createErr = syscall.ENOSPC
	fsys.mu.Unlock()
	_, err = l.Append(t.Context(), []byte("x"))
	require.ErrorIs(t, err, ErrNoSpace)
	_, err = l.Append(t.Context(), []byte("y"))
	require.ErrorIs(t, err, ErrNoSpace)
	require.Equal(t, uint64(1), l.SyncedSeq())
	fsys.mu.Lock()
	fsys.createErr = nil
	fsys.mu.Unlock()
	first, err := l.Append(t.Context(), []byte("z"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), first)
	require.Equal(t, 2, l.Stats().Segments)
	got := readN(t, l, 0, 2, 1<<20)
	require.Equal(t, []byte("z"), got[1].Data)
}
