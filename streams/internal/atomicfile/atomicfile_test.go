package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWrite_ReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Write(dir, "f.json", []byte("one")))
	require.NoError(t, Write(dir, "f.json", []byte("two")))
	got, err := os.ReadFile(filepath.Join(dir, "f.json"))
	require.NoError(t, err)
	require.Equal(t, "two", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temp file left behind")

	require.Error(t, Write(filepath.Join(dir, "missing"), "f.json", nil))
}
