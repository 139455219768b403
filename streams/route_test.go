package streams

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoute_MatchesBigIntReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 5, 8, 13} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := openTest(t, Options{Dir: t.TempDir(), Name: "r", Shards: n, NoSync: true})
			shards := s.Shards()
			tbl := s.routes
			for range 2000 {
				key := fmt.Sprintf("%x", rng.Uint64())
				require.Equal(t, refShard(t, shards, key), tbl.open[tbl.route(key)].id, "key %q", key)
			}
		})
	}
}

func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{1, 4, 64} {
		b.Run(fmt.Sprintf("shards=%d", n), func(b *testing.B) {
			m := newShardMap("b", n, testTime)
			tbl := &routeTable{}
			for _, d := range m.shards {
				tbl.open = append(tbl.open, &shard{def: d})
				tbl.starts = append(tbl.starts, d.start)
			}
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprintf("user-%d", i)
			}
			i := 0
			for b.Loop() {
				_ = tbl.route(keys[i&1023])
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
