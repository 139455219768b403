package wal

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteFaultsAreSticky(t *testing.T) {
	tests := []struct {
		name   string
		inject func(f *faultFS, at int64)
		target error // expected cause, nil: any error
	}{
		{"fsync error", func(f *faultFS, _ int64) {
			err := error(syscall.EIO)
			f.syncErr.Store(&err)
		}, syscall.EIO},
		{"short write", func(f *faultFS, at int64) { f.setWriteFault(at+10, nil) }, nil},
		{"EIO on write", func(f *faultFS, at int64) { f.setWriteFault(at+HeaderBytes+3, syscall.EIO) }, syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			l, want := openFive(t, dir, Options{FS: fsys})
			r := l.NewReader(0)
			defer r.Close()
			readAllFrom(t, r, len(want))

			tt.inject(fsys, l.Stats().Bytes)
			_, err := l.Append(t.Context(), payload("bad", 0, 100), payload("bad", 1, 100))
			require.Error(t, err)
			if tt.target != nil {
				require.ErrorIs(t, err, tt.target)
			}
			// Sticky, even after the fault goes away.
			fsys.setWriteFault(-1, nil)
			fsys.syncErr.Store(nil)
			_, err2 := l.Append(t.Context(), []byte("later"))
			require.Error(t, err2)
			if tt.target != nil {
				require.ErrorIs(t, err2, tt.target)
			}
			require.Error(t, l.Wait(t.Context(), uint64(len(want))))

			// No reader ever sees the failed entries.
			require.Equal(t, uint64(len(want)), l.SyncedSeq())
			requireCaughtUp(t, r)
			got := readN(t, l, 0, len(want), 1<<20)
			for i, e := range got {
				require.Equal(t, want[i], e.Data)
			}
			require.Error(t, l.Close())

			// Reopening clears the error and keeps exactly the synced prefix.
			l = openLog(t, dir, Options{FS: fsys})
			require.Equal(t, uint64(len(want)), l.NextSeq())
			readN(t, l, 0, len(want), 1<<20)
			first, err := l.Append(t.Context(), []byte("again"))
			require.NoError(t, err)
			require.Equal(t, uint64(len(want)), first)
		})
	}
}

// readAllFrom reads n entries from r.
func readAllFrom(t *testing.T, r *Reader, n int) {
	t.Helper()
	for got := 0; got < n; {
		ents, err := r.Next(t.Context(), 1<<20)
		require.NoError(t, err)
		got += len(ents)
	}
	requireCaughtUp(t, r)
}

func TestRolloverFaultIsSticky(t *testing.T) {
	fsys := newFaultFS()
	l, err := Open(t.TempDir(), Options{FS: fsys, SegmentBytes: 100})
	require.NoError(t, err)
	_, err = l.Append(t.Context(), make([]byte, 200))
	require.NoError(t, err)
	fsys.mu.Lock()
	fsys.createErr = syscall.EIO
	fsys.mu.Unlock()
	_, err = l.Append(t.Context(), []byte("x"))
	require.ErrorIs(t, err, syscall.EIO)
	_, err = l.Append(t.Context(), []byte("y"))
	require.ErrorIs(t, err, syscall.EIO)
	require.Equal(t, uint64(1), l.SyncedSeq())
	require.ErrorIs(t, l.Close(), syscall.EIO)
}

// openFive opens a log in dir and appends five entries of 100 bytes,
// returned as want: the healthy start of every fault test.
func openFive(t *testing.T, dir string, opts Options) (*Log, [][]byte) {
	t.Helper()
	l, err := Open(dir, opts)
	require.NoError(t, err)
	var want [][]byte
	for i := range 5 {
		p := payload("ok", i, 100)
		_, err := l.Append(t.Context(), p)
		require.NoError(t, err)
		want = append(want, p)
	}
	return l, want
}
