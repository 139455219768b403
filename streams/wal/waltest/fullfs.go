// Package waltest holds test doubles for code built on the log: a file
// system that fills up on demand, for the stream core and the server's
// disk-full tests alike.
package waltest

import (
	"os"
	"sync/atomic"
	"syscall"

	"github.com/hydrant-io/hydrant/streams/wal"
)

// FullFS is the OS file system with a switch: while full, every write to a
// file opened for writing writes half of its bytes (a torn write, as on a
// real disk) and fails with ENOSPC.
type FullFS struct {
	wal.OSFS
	full atomic.Bool
}

// SetFull turns the fault on or off.
func (f *FullFS) SetFull(full bool) { f.full.Store(full) }

// OpenFile implements wal.FS.
func (f *FullFS) OpenFile(name string, flag int, perm os.FileMode) (wal.File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	return &fullFile{File: file, fs: f}, nil
}

type fullFile struct {
	wal.File
	fs *FullFS
}

func (f *fullFile) Write(p []byte) (int, error) {
	if f.fs.full.Load() {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}
