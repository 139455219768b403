package wal

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// FS is the file system seam of a Log. Tests inject one to simulate short
// writes, write and sync errors and a full disk at chosen offsets.
type FS interface {
	// OpenFile opens name like os.OpenFile. Directories are opened with
	// os.O_RDONLY so that they can be synced.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove removes a file like os.Remove.
	Remove(name string) error
	// ReadDir lists a directory like os.ReadDir.
	ReadDir(name string) ([]os.DirEntry, error)
	// MkdirAll creates a directory path like os.MkdirAll.
	MkdirAll(path string, perm os.FileMode) error
}

// File is an open file of an FS.
type File interface {
	io.Writer
	io.ReaderAt
	io.Closer
	// Sync makes written data durable. For the OS file system it is
	// fdatasync on files opened for writing and fsync otherwise (directories).
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Stat describes the file.
	Stat() (os.FileInfo, error)
}

// OSFS is the FS backed by the operating system.
type OSFS struct{}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	// Only data and the size need to reach the disk for a WAL segment, so
	// writers use fdatasync; a directory (opened read-only) needs fsync.
	return &osFile{File: f, datasync: flag&(os.O_WRONLY|os.O_RDWR) != 0}, nil
}

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// ReadDir implements FS.
func (OSFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll implements FS.
func (OSFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

type osFile struct {
	*os.File
	datasync bool
}

func (f *osFile) Sync() error {
	if !f.datasync {
		return f.File.Sync()
	}
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
