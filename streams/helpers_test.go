package streams

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hydrant-io/hydrant/streams/internal/hashkey"
	"github.com/hydrant-io/hydrant/streams/record"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a settable clock for retention tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func testOptions(t *testing.T, dir string) Options {
	t.Helper()
	return Options{Dir: dir, Name: "events", Shards: 1, NoSync: true, Consumers: []string{"lake", "search"}}
}

func openTest(t *testing.T, opts Options) *Stream {
	t.Helper()
	s, err := Open(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func recs(n int, keyf func(i int) string) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{Key: keyf(i), Data: fmt.Appendf(nil, "record-%d", i)}
	}
	return out
}

func keyN(i int) string { return fmt.Sprintf("key-%d", i) }

// refShard finds, with math/big, the open shard whose range contains
// MD5(key): the reference routing is checked against.
func refShard(t *testing.T, shards []ShardInfo, key string) record.ShardID {
	t.Helper()
	h := hashkey.Of(key).Big()
	for _, sh := range shards {
		if sh.Closed {
			continue
		}
		lo, _ := new(big.Int).SetString(sh.StartingHashKey, 10)
		hi, _ := new(big.Int).SetString(sh.EndingHashKey, 10)
		if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
			return sh.ID
		}
	}
	t.Fatalf("no open shard covers %s", h)
	return ""
}

// readAll reads shard from seq until n records were returned.
func readAll(t *testing.T, s *Stream, id record.ShardID, from uint64, n int) []record.Record {
	t.Helper()
	r, err := s.NewReader(id, from)
	require.NoError(t, err)
	defer func() { require.NoError(t, r.Close()) }()
	var out []record.Record
	for len(out) < n {
		got, err := r.Next(t.Context(), 1<<20)
		require.NoError(t, err)
		out = append(out, got...)
	}
	return out
}

func segmentFileName(first uint64) string { return fmt.Sprintf("%020d.wal", first) }

func big2(v int64) *big.Int { return big.NewInt(v) }

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
