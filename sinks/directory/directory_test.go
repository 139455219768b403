package directory

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
)

func TestDirectory_PutLayout(t *testing.T) {
	tests := []struct {
		name, bucket, key, want string
	}{
		{"no bucket", "", "a/b/c.txt", "a/b/c.txt"},
		{"bucket", "lake", "2024/01/31/23/p-1-x", "lake/2024/01/31/23/p-1-x"},
		{"flat", "lake", "obj", "lake/obj"},
		{"dots inside names", "", "a..b/.hidden/x..", "a..b/.hidden/x.."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			s, err := New(root)
			require.NoError(t, err)
			require.NoError(t, s.Put(t.Context(), tt.bucket, tt.key, strings.NewReader("hello")))
			got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(tt.want)))
			require.NoError(t, err)
			require.Equal(t, "hello", string(got))
			fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(tt.want)))
			require.NoError(t, err)
			require.Equal(t, fs.FileMode(0o644), fi.Mode().Perm())
			require.Empty(t, tempFiles(t, root))
		})
	}
}

func TestDirectory_Overwrite(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	require.NoError(t, err)
	require.NoError(t, s.Put(t.Context(), "b", "k/obj", strings.NewReader("first, longer body")))
	require.NoError(t, s.Put(t.Context(), "b", "k/obj", strings.NewReader("second")))
	got, err := os.ReadFile(filepath.Join(root, "b", "k", "obj"))
	require.NoError(t, err)
	require.Equal(t, "second", string(got))
	entries, err := os.ReadDir(filepath.Join(root, "b", "k"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestDirectory_RejectsEscapes(t *testing.T) {
	tests := []struct{ name, bucket, key string }{
		{"dotdot", "", "../x"},
		{"dotdot inside", "", "a/../../x"},
		{"absolute", "", "/etc/passwd"},
		{"dot segment", "", "a/./b"},
		{"double slash", "", "a//b"},
		{"trailing slash", "", "a/"},
		{"empty", "", ""},
		{"backslash", "", `a\..\b`},
		{"nul", "", "a\x00b"},
		{"control", "", "a\nb"},
		{"temp name", "", "a/.tmp-123"},
		{"bucket dotdot", "..", "x"},
		{"bucket slash", "a/b", "x"},
		{"bad utf8", "", "a\xff"},
		{"too long", "", strings.Repeat("a", MaxKeyLen+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			s, err := New(root)
			require.NoError(t, err)
			err = s.Put(t.Context(), tt.bucket, tt.key, strings.NewReader("x"))
			require.ErrorIs(t, err, ErrInvalidKey)
			require.True(t, sinks.IsPermanent(err))
			entries, err := os.ReadDir(parent)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing written, not even the root (it is made by the first valid write)")
		})
	}
}

// failingReader returns some bytes, then an error: a partial body.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		n := copy(p, strings.Repeat("x", min(len(p), r.n)))
		r.n -= n
		return n, nil
	}
	return 0, errors.New("boom")
}

func TestDirectory_FailedPutLeavesNothing(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	require.NoError(t, err)
	require.NoError(t, s.Put(t.Context(), "", "k", strings.NewReader("old")))

	err = s.Put(t.Context(), "", "k", &failingReader{n: 10})
	require.ErrorContains(t, err, "boom")
	require.False(t, sinks.IsPermanent(err), "I/O errors are retryable")
	got, err := os.ReadFile(filepath.Join(root, "k"))
	require.NoError(t, err)
	require.Equal(t, "old", string(got), "the old object stays whole")
	require.Empty(t, tempFiles(t, root))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, s.Put(ctx, "", "other", strings.NewReader("x")), context.Canceled)
	_, err = os.Stat(filepath.Join(root, "other"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// blockingReader lets the test look at the directory while a Put is
// mid-write: no file with the final name may exist yet.
type blockingReader struct {
	first   bool
	reached chan struct{}
	resume  chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.first {
		r.first = true
		return copy(p, "partial"), nil
	}
	close(r.reached)
	<-r.resume
	return 0, io.EOF
}

func TestDirectory_NoPartialObjectVisible(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	require.NoError(t, err)
	br := &blockingReader{reached: make(chan struct{}), resume: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- s.Put(t.Context(), "b", "d/obj", br) }()
	<-br.reached
	_, err = os.Stat(filepath.Join(root, "b", "d", "obj"))
	require.ErrorIs(t, err, fs.ErrNotExist, "final name invisible mid-write")
	tmps := tempFiles(t, root)
	require.Len(t, tmps, 1)
	require.True(t, strings.HasPrefix(filepath.Base(tmps[0]), TempPrefix))
	close(br.resume)
	require.NoError(t, <-done)
	got, err := os.ReadFile(filepath.Join(root, "b", "d", "obj"))
	require.NoError(t, err)
	require.Equal(t, "partial", string(got))
	require.Empty(t, tempFiles(t, root))
}

func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), TempPrefix) {
			out = append(out, p)
		}
		return nil
	}))
	return out
}

func TestDirectory_CheckBucket(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	s, err := New(root)
	require.NoError(t, err)

	require.NoError(t, s.CheckBucket(t.Context(), ""), "the root")
	require.NoError(t, s.CheckBucket(t.Context(), "lake"), "a bucket Put would create")
	fi, err := os.Stat(filepath.Join(root, "lake"))
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Empty(t, tempFiles(t, root), "the probe file is removed")

	err = s.CheckBucket(t.Context(), "a/b")
	require.ErrorIs(t, err, ErrInvalidKey)
	require.True(t, sinks.IsPermanent(err))

	require.NoError(t, os.WriteFile(filepath.Join(root, "file"), []byte("x"), 0o644))
	require.ErrorContains(t, s.CheckBucket(t.Context(), "file"), "not a directory")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, s.CheckBucket(ctx, ""), context.Canceled)

	// The root replaced by a file, then gone with its parent: unreachable,
	// retryable (someone may fix the disk).
	require.NoError(t, os.RemoveAll(root))
	require.NoError(t, os.WriteFile(root, []byte("x"), 0o644))
	err = s.CheckBucket(t.Context(), "")
	require.ErrorContains(t, err, "not a directory")
	require.False(t, sinks.IsPermanent(err))
	require.NoError(t, os.RemoveAll(parent))
	require.Error(t, s.CheckBucket(t.Context(), "lake"))

	// Recreated: reachable again.
	require.NoError(t, os.MkdirAll(parent, 0o755))
	require.NoError(t, s.CheckBucket(t.Context(), "lake"))
}

func TestDirectory_CheckBucketReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	root := t.TempDir()
	s, err := New(root)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(root, 0o555))
	t.Cleanup(func() { _ = os.Chmod(root, 0o755) })
	require.ErrorContains(t, s.CheckBucket(t.Context(), ""), "not writable")
}

func TestDirectory_LongSegmentIsPermanent(t *testing.T) {
	long := strings.Repeat("s", MaxSegmentLen+1)
	tests := []struct{ name, bucket, key string }{
		{"key segment", "", "a/" + long + "/obj"},
		{"last segment", "", "a/" + long},
		{"bucket", long, "obj"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			s, err := New(filepath.Join(parent, "root"))
			require.NoError(t, err)
			err = s.Put(t.Context(), tt.bucket, tt.key, strings.NewReader("x"))
			require.ErrorIs(t, err, ErrInvalidKey)
			require.True(t, sinks.IsPermanent(err), "retrying cannot shorten a name: %v", err)
			entries, err := os.ReadDir(parent)
			require.NoError(t, err)
			require.Empty(t, entries)
		})
	}
}

func TestDirectory_LongestSegmentFits(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	require.NoError(t, err)
	seg := strings.Repeat("s", MaxSegmentLen)
	require.NoError(t, s.Put(t.Context(), "", seg+"/"+seg, strings.NewReader("x")))
	require.Empty(t, tempFiles(t, root))
}

// A name the OS refuses as too long (here: the whole path past PATH_MAX,
// every segment and the key within limits) is permanent too.
func TestDirectory_OSNameTooLongIsPermanent(t *testing.T) {
	root := t.TempDir()
	seg := strings.Repeat("r", 200)
	for len(root) < 3500 {
		root = filepath.Join(root, seg)
	}
	require.NoError(t, os.MkdirAll(root, 0o755))
	s, err := New(root)
	require.NoError(t, err)
	key := strings.Repeat(seg+"/", 4) + "obj"
	err = s.Put(t.Context(), "", key, strings.NewReader("x"))
	require.Error(t, err)
	require.ErrorIs(t, err, syscall.ENAMETOOLONG)
	require.True(t, sinks.IsPermanent(err), "%v", err)
}
