package fsutil

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMkdirAllSync_CreatesNestedDirs(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "c")
	require.NoError(t, MkdirAllSync(path, 0o755))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm()&0o755)
}

func TestMkdirAllSync_ExistingPathIsFine(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, MkdirAllSync(root, 0o755))
	require.NoError(t, MkdirAllSync(filepath.Join(root, "x"), 0o755))
	require.NoError(t, MkdirAllSync(filepath.Join(root, "x")+"/", 0o755))
}

func TestMkdirAllSync_RelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	require.NoError(t, MkdirAllSync(filepath.Join("rel", "dir"), 0o755))
	require.DirExists(t, filepath.Join("rel", "dir"))
}

func TestMkdirAllSync_FileInTheWay(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	err := MkdirAllSync(filepath.Join(file, "sub", "dir"), 0o755)
	require.ErrorIs(t, err, syscall.ENOTDIR)
	require.ErrorContains(t, err, file)

	err = MkdirAllSync(file, 0o755)
	require.ErrorIs(t, err, syscall.ENOTDIR)
}

func TestMkdirAllSync_ParentNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	root := t.TempDir()
	ro := filepath.Join(root, "ro")
	require.NoError(t, os.Mkdir(ro, 0o555))
	t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })

	err := MkdirAllSync(filepath.Join(ro, "a", "b"), 0o755)
	require.ErrorIs(t, err, os.ErrPermission)
	require.NoDirExists(t, filepath.Join(ro, "a"))
}

func TestSyncDir_Missing(t *testing.T) {
	err := SyncDir(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
