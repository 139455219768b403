package hashkey

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashKey_InitialRangesMatchKinesis(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, n := range []int{1, 2, 3, 4, 7, 16, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			step := new(big.Int).Div(two128, big.NewInt(int64(n)))
			rs := InitialRanges(n)
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

func TestHashKey_KeyHashIsBigEndianMD5(t *testing.T) {
	long := string(make([]byte, 300)) // beyond the stack buffer
	for _, key := range []string{"a", "partition-1", long} {
		sum := md5.Sum([]byte(key))
		want := new(big.Int).SetBytes(sum[:])
		require.Equal(t, want.String(), Of(key).String())
	}
}

func TestHashKey_ParseRejectsOutOfRange(t *testing.T) {
	for _, s := range []string{"-1", "340282366920938463463374607431768211456", "x", ""} {
		_, err := Parse(s)
		require.Error(t, err, s)
	}
	k, err := Parse("340282366920938463463374607431768211455")
	require.NoError(t, err)
	require.Equal(t, Max, k)
}
