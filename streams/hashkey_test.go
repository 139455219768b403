package streams

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashKey_InitialRangesMatchKinesis(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, n := range []int{1, 2, 3, 4, 7, 16, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			step := new(big.Int).Div(two128, big.NewInt(int64(n)))
			rs := initialRanges(n)
			require.Len(t, rs, n)
			for i, r := range rs {
				wantStart := new(big.Int).Mul(step, big.NewInt(int64(i)))
				wantEnd := new(big.Int).Sub(new(big.Int).Add(wantStart, step), big.NewInt(1))
				if i == n-1 {
					wantEnd = new(big.Int).Sub(two128, big.NewInt(1))
				}
				require.Equal(t, wantStart.String(), r[0].String(), "start of shard %d", i)
				require.Equal(t, wantEnd.String(), r[1].String(), "end of shard %d", i)
			}
		})
	}
}

func TestHashKey_RoutingMatchesBigIntReference(t *testing.T) {
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

func TestHashKey_KeyHashIsBigEndianMD5(t *testing.T) {
	long := string(make([]byte, 300)) // beyond the stack buffer
	for _, key := range []string{"a", "partition-1", long} {
		sum := md5.Sum([]byte(key))
		want := new(big.Int).SetBytes(sum[:])
		require.Equal(t, want.String(), keyHash(key).String())
	}
}

func TestHashKey_ParseRejectsOutOfRange(t *testing.T) {
	for _, s := range []string{"-1", "340282366920938463463374607431768211456", "x", ""} {
		_, err := parseHashKey(s)
		require.Error(t, err, s)
	}
	k, err := parseHashKey("340282366920938463463374607431768211455")
	require.NoError(t, err)
	require.Equal(t, maxHashKey, k)
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
