package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
)

func TestStore_CommitPersists(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	_, ok := s.Get("lake", "shardId-000000000000")
	require.False(t, ok)
	require.NoError(t, s.Commit(t.Context(), "lake", "shardId-000000000000", 10))
	require.NoError(t, s.Commit(t.Context(), "lake", "shardId-000000000001", 3))
	require.NoError(t, s.Commit(t.Context(), "search", "shardId-000000000000", 7))
	require.NoError(t, s.Commit(t.Context(), "lake", "shardId-000000000000", 10), "same value again")

	// A leftover temp file from a crash is removed on Open.
	tmp := filepath.Join(dir, "lake.json.tmp-123")
	require.NoError(t, os.WriteFile(tmp, []byte("garbage"), 0o644))

	s, err = Open(dir)
	require.NoError(t, err)
	require.NoFileExists(t, tmp)
	require.Equal(t, map[record.ShardID]uint64{"shardId-000000000000": 10, "shardId-000000000001": 3}, s.Shards("lake"))
	n, err := s.Load(t.Context(), "search", "shardId-000000000000")
	require.NoError(t, err)
	require.Equal(t, uint64(7), n)
	n, err = s.Load(t.Context(), "nobody", "shardId-000000000000")
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestStore_RejectsBackwardsAndBadNames(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, s.Commit(t.Context(), "lake", "s", 10))
	require.ErrorIs(t, s.Commit(t.Context(), "lake", "s", 9), ErrBackwards)
	for _, name := range []string{"", ".hidden", "a/b", "a b", string(make([]byte, 129))} {
		require.ErrorIs(t, s.Commit(t.Context(), name, "s", 1), ErrInvalidConsumer, "%q", name)
	}
	require.NoError(t, s.Commit(t.Context(), "ok_name-1.x", "s", 1))
}

func TestStore_OpenRejectsCorruptFile(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      "{",
		"wrong version": `{"version":2,"consumer":"lake","shards":{}}`,
		"wrong name":    `{"version":1,"consumer":"other","shards":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "lake.json"), []byte(body), 0o644))
			_, err := Open(dir)
			require.Error(t, err)
		})
	}
}

func TestStore_ConcurrentCommitsCoalesce(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for shard := range 8 {
		wg.Go(func() {
			id := record.ShardID(fmt.Sprintf("shardId-%012d", shard))
			for v := range uint64(50) {
				if err := s.Commit(t.Context(), "lake", id, v+1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s, err = Open(dir)
	require.NoError(t, err)
	got := s.Shards("lake")
	require.Len(t, got, 8)
	for id, v := range got {
		require.Equal(t, uint64(50), v, id)
	}
}

func FuzzDecodeFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"consumer":"lake","shards":{"shardId-000000000000":12}}`))
	f.Add([]byte(`{"version":1,"consumer":"lake"}`))
	f.Add([]byte(`{"version":1,"consumer":"lake","shards":{"x":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeFile("lake.json", b)
		if err != nil {
			return
		}
		require.Equal(t, "lake", got.Consumer)
		require.NotNil(t, got.Shards)
	})
}
