// Package directory implements sinks.ObjectStore over a local directory laid
// out like a bucket: object <bucket>/<key> is the file <root>/<bucket>/<key>.
//
// Put is atomic for readers: the body is written to a hidden temporary file
// (".tmp-" prefix) in the destination directory, fsynced, renamed over the
// final name, and the directory is fsynced. A reader therefore sees the
// whole object or nothing, a retried Put replaces the file, and a crash
// leaves at most a stray ".tmp-" file, which can never match an object name
// because keys with a ".tmp-" segment are rejected.
package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"unicode/utf8"

	"github.com/hydrant-io/hydrant/sinks"
)

// TempPrefix starts the name of every temporary file.
const TempPrefix = ".tmp-"

// MaxKeyLen is the longest key accepted, in bytes (S3's limit).
const MaxKeyLen = 1024

// MaxSegmentLen is the longest bucket or key path segment accepted, in
// bytes: NAME_MAX of Linux's and most other file systems. A longer one
// could never be created, so it fails at once instead of being retried.
const MaxSegmentLen = 255

// ErrInvalidKey is wrapped (as a sinks.Permanent error) when a bucket or key
// could escape the root, collide with temporary files, or is too long for
// any file system (MaxKeyLen, MaxSegmentLen).
var ErrInvalidKey = errors.New("invalid object key")

// Store is a sinks.ObjectStore over a directory. It is safe for concurrent
// use; concurrent Puts of the same key are last-rename-wins.
type Store struct {
	root string
	// rootMade: the root was created (with its parents) by a first write.
	// Later writes recreate the root itself but never its parents: a
	// vanished mount point must fail, not fill the disk beneath it.
	rootMade atomic.Bool
}

var (
	_ sinks.ObjectStore   = (*Store)(nil)
	_ sinks.BucketChecker = (*Store)(nil)
)

// New returns a Store rooted at root; the directory is created when first
// written.
func New(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("directory store: empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("directory store: %w", err)
	}
	// The root is created by the first Put or CheckBucket, not here, so
	// that building a store (hydrant validate does) touches no disk.
	return &Store{root: abs}, nil
}

// Root is the absolute root directory.
func (s *Store) Root() string { return s.root }

// Path returns the file path of an object, or an error wrapping
// ErrInvalidKey.
func (s *Store) Path(bucket, key string) (string, error) {
	if bucket != "" {
		if strings.Contains(bucket, "/") {
			return "", fmt.Errorf("%w: bucket %q contains '/'", ErrInvalidKey, bucket)
		}
		if err := checkSegment(bucket); err != nil {
			return "", fmt.Errorf("bucket: %w", err)
		}
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, bucket, filepath.FromSlash(key)), nil
}

func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(seg); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
	}
	return nil
}

// checkSegment rejects path segments that would climb, collide with another
// key ("a//b" and "a/./b" would both be "a/b"), or look like a temp file.
func checkSegment(seg string) error {
	switch {
	case seg == "":
		return fmt.Errorf("%w: empty path segment (leading, trailing or double '/')", ErrInvalidKey)
	case seg == "." || seg == "..":
		return fmt.Errorf("%w: %q segment", ErrInvalidKey, seg)
	case len(seg) > MaxSegmentLen:
		return fmt.Errorf("%w: path segment longer than %d bytes", ErrInvalidKey, MaxSegmentLen)
	case strings.HasPrefix(seg, TempPrefix):
		return fmt.Errorf("%w: segment starts with %q", ErrInvalidKey, TempPrefix)
	case strings.ContainsAny(seg, "\\\x00"):
		return fmt.Errorf("%w: backslash or NUL", ErrInvalidKey)
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < 0x20 || seg[i] == 0x7f {
			return fmt.Errorf("%w: control character", ErrInvalidKey)
		}
	}
	return nil
}

// CheckBucket implements sinks.BucketChecker: the bucket's directory
// (<root>/<bucket>, the root itself when bucket is "") exists or can be
// created as Put would create it, is a directory, and accepts a new file
// (a temporary file, removed at once). An invalid bucket name fails with
// a sinks.Permanent error wrapping ErrInvalidKey.
func (s *Store) CheckBucket(ctx context.Context, bucket string) error {
	return permanentIfNameTooLong(s.checkBucket(ctx, bucket))
}

func (s *Store) checkBucket(ctx context.Context, bucket string) error {
	path, err := s.Path(bucket, "check")
	if err != nil {
		return sinks.Permanent(fmt.Errorf("directory store: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := s.mkdirAll(dir); err != nil {
		return fmt.Errorf("directory store: %w", err)
	}
	f, err := os.CreateTemp(dir, TempPrefix+"check-*")
	if err != nil {
		return fmt.Errorf("directory store: %s is not writable: %w", dir, err)
	}
	err = f.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("directory store: %w", err)
	}
	return nil
}

// Put writes body to <root>/<bucket>/<key> atomically, replacing any
// existing object. Invalid keys, and names the OS refuses as too long
// (ENAMETOOLONG), fail with a sinks.Permanent error; other I/O errors are
// returned as they are (retryable).
func (s *Store) Put(ctx context.Context, bucket, key string, body io.Reader) error {
	return permanentIfNameTooLong(s.put(ctx, bucket, key, body))
}

// Get opens <root>/<bucket>/<key> for reading.
func (s *Store) Get(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	path, err := s.Path(bucket, key)
	if err != nil {
		return nil, sinks.Permanent(fmt.Errorf("get %q: %w", key, err))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	return f, nil
}

func (s *Store) put(ctx context.Context, bucket, key string, body io.Reader) (err error) {
	path, err := s.Path(bucket, key)
	if err != nil {
		return sinks.Permanent(fmt.Errorf("put %q: %w", key, err))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := s.mkdirAll(dir); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	f, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx, body}); err != nil {
		return fmt.Errorf("put %q: write: %w", key, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("put %q: sync: %w", key, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("put %q: close: %w", key, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err = syncDir(dir); err != nil {
		return fmt.Errorf("put %q: sync directory: %w", key, err)
	}
	return nil
}

// permanentIfNameTooLong marks the OS's ENAMETOOLONG permanent: a name the
// file system refuses (a shorter NAME_MAX than MaxSegmentLen, or a whole
// path past PATH_MAX) is refused on every retry too.
func permanentIfNameTooLong(err error) error {
	if errors.Is(err, syscall.ENAMETOOLONG) && !sinks.IsPermanent(err) {
		return sinks.Permanent(err)
	}
	return err
}

// mkdirAll creates dir and its missing parents below the root, fsyncing each
// parent whose entries changed so that a new object survives a crash.
func (s *Store) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		s.rootMade.Store(true) // dir is the root or below it
		return nil
	}
	parent := filepath.Dir(dir)
	if parent == dir || len(parent) < len(s.root) {
		if !s.rootMade.Load() {
			// The first write creates the root as New once did.
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			s.rootMade.Store(true)
			return nil
		}
	} else if err := s.mkdirAll(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
