package streams

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShardMap_JSONRoundTrip(t *testing.T) {
	m := newShardMap("events", 3, testTime)
	m, err := m.split("shardId-000000000001", m.shards[1].start.Add1().Add1(), 42)
	require.NoError(t, err)
	m, err = m.merge("shardId-000000000004", "shardId-000000000002", 0, 9)
	require.NoError(t, err)
	m.shards[0].drained = true
	m.shards[0].closed = true
	m.shards[0].endSeq = 5
	// Shard 0 closed without children leaves a gap: validate must notice.
	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.ErrorContains(t, json.Unmarshal(b, new(shardMap)), "gap")

	m.shards[0].closed, m.shards[0].drained = false, false
	b, err = json.Marshal(m)
	require.NoError(t, err)
	var got shardMap
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, m.shards, got.shards)
	require.Equal(t, m.nextIndex, got.nextIndex)
	require.True(t, m.created.Equal(got.created))
}

func TestShardMap_ValidateRejects(t *testing.T) {
	cases := map[string]func(m *shardMap){
		"overlap":         func(m *shardMap) { m.shards[1].start = m.shards[1].start.Sub1() },
		"gap":             func(m *shardMap) { m.shards[1].start = m.shards[1].start.Add1() },
		"short of max":    func(m *shardMap) { m.shards[1].end = m.shards[1].end.Sub1() },
		"duplicate index": func(m *shardMap) { m.shards[1].index = 0 },
		"index too high":  func(m *shardMap) { m.nextIndex = 1 },
		"all closed":      func(m *shardMap) { m.shards[0].closed, m.shards[1].closed = true, true },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := newShardMap("x", 2, testTime)
			require.NoError(t, m.validate())
			mutate(m)
			require.Error(t, m.validate())
		})
	}
}

// A crash after the children's directories were created but before the map
// was saved leaves orphan empty logs; reopening and splitting again reuses
// them.
func TestShardMap_OrphanChildDirIsHarmless(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	s, err := Open(t.Context(), o)
	require.NoError(t, err)
	require.NoError(t, s.Append(t.Context(), recs(5, keyN)))
	require.NoError(t, s.Close())
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "shards", "shardId-000000000001"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, shardMapFile+".tmp-1"), []byte("{"), 0o644))

	s = openTest(t, o)
	require.NoFileExists(t, filepath.Join(dir, shardMapFile+".tmp-1"))
	require.Len(t, s.Shards(), 1)
	require.NoError(t, s.Split(t.Context(), shard0, big2(1<<20)))
	in := recs(20, keyN)
	require.NoError(t, s.Append(t.Context(), in))
	for _, r := range in {
		require.NotEqual(t, shard0, r.Shard)
	}
}

func FuzzShardMapDecode(f *testing.F) {
	b, _ := json.Marshal(newShardMap("events", 4, testTime))
	f.Add(b)
	f.Add([]byte(`{"version":1,"shards":[{"index":0,"starting_hash_key":"0","ending_hash_key":"340282366920938463463374607431768211455"}],"next_index":1}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m shardMap
		if json.Unmarshal(b, &m) != nil {
			return
		}
		// A map that decodes is valid, and routes every key somewhere.
		require.NoError(t, m.validate())
		out, err := json.Marshal(&m)
		require.NoError(t, err)
		var again shardMap
		require.NoError(t, json.Unmarshal(out, &again))
		require.Equal(t, m.shards, again.shards)
	})
}
