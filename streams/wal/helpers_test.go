package wal

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// openLog opens a log in dir and closes it at the end of the test.
func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// payload is a deterministic payload for seq-independent identification.
func payload(tag string, i, size int) []byte {
	p := []byte(fmt.Sprintf("%s-%d:", tag, i))
	for len(p) < size {
		p = append(p, byte('a'+(i+len(p))%26))
	}
	return p
}

// readN reads exactly n entries starting at from and returns copies.
func readN(t testing.TB, l *Log, from uint64, n int, maxBytes int) []Entry {
	t.Helper()
	r := l.NewReader(from)
	defer r.Close()
	var out []Entry
	for len(out) < n {
		ents, err := r.Next(t.Context(), maxBytes)
		require.NoError(t, err)
		require.NotEmpty(t, ents)
		for _, e := range ents {
			out = append(out, Entry{Seq: e.Seq, Data: append([]byte(nil), e.Data...)})
		}
	}
	require.Len(t, out, n, "reader returned more entries than appended")
	requireCaughtUp(t, r)
	return out
}

// requireCaughtUp asserts that r has nothing more to return right now.
func requireCaughtUp(t testing.TB, r *Reader) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ents, err := r.Next(ctx, 1<<20)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, ents)
}

// faultFS wraps the OS file system and injects faults into segment files.
type faultFS struct {
	OSFS
	mu sync.Mutex
	// writeLimit, if >= 0, is the file offset at which writes stop: a write
	// crossing it writes up to it and then fails with writeErr (a nil
	// writeErr means a silent short write).
	writeLimit int64
	writeErr   error
	syncErr    atomic.Pointer[error] // returned by Sync of segment files
	syncGate   chan chan struct{}    // if set, Sync of segment files waits for a release
	createErr  error                 // returned when creating a segment file
}

func newFaultFS() *faultFS { return &faultFS{writeLimit: -1} }

func (f *faultFS) setWriteFault(limit int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeLimit, f.writeErr = limit, err
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f.mu.Lock()
	cerr := f.createErr
	f.mu.Unlock()
	if flag&os.O_CREATE != 0 && cerr != nil {
		return nil, cerr
	}
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, size: info.Size()}, nil
}

type faultFile struct {
	File
	fs   *faultFS
	size int64
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	limit, werr := f.fs.writeLimit, f.fs.writeErr
	f.fs.mu.Unlock()
	if limit >= 0 && f.size+int64(len(p)) > limit {
		n := int(max(limit-f.size, 0))
		n, err := f.File.Write(p[:n])
		f.size += int64(n)
		if err == nil {
			err = werr
		}
		return n, err
	}
	n, err := f.File.Write(p)
	f.size += int64(n)
	return n, err
}

func (f *faultFile) Truncate(size int64) error {
	err := f.File.Truncate(size)
	if err == nil {
		f.size = size
	}
	return err
}

func (f *faultFile) Sync() error {
	if g := f.fs.syncGate; g != nil {
		release := make(chan struct{})
		g <- release
		<-release
	}
	if p := f.fs.syncErr.Load(); p != nil {
		return *p
	}
	return f.File.Sync()
}
