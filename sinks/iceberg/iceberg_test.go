package iceberg

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

func TestParseTable(t *testing.T) {
	for in, want := range map[string]table.Identifier{
		"ns.t":    {"ns", "t"},
		"a.b.t":   {"a", "b", "t"},
		"db.my_t": {"db", "my_t"},
	} {
		got, err := ParseTable(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "t", ".t", "ns.", "a..t", ".a.t", "a.b.", "."} {
		_, err := ParseTable(in)
		require.Error(t, err, "%q", in)
		require.Contains(t, err.Error(), `table "`+in+`": want namespace.name`)
	}
}

func TestPos_RoundTrip(t *testing.T) {
	for _, p := range []record.Position{
		{},
		{Seq: 1, Sub: 0},
		{Seq: 12, Sub: 3},
		{Seq: math.MaxUint64, Sub: math.MaxUint32},
	} {
		s := formatPos(p)
		got, ok := parsePos(s)
		require.True(t, ok, s)
		require.Equal(t, p, got, s)
	}
	require.Equal(t, "12.3", formatPos(record.Position{Seq: 12, Sub: 3}))

	got, ok := parsePos("007.08")
	require.True(t, ok)
	require.Equal(t, record.Position{Seq: 7, Sub: 8}, got)
}

func TestParsePos_Refused(t *testing.T) {
	for _, s := range []string{
		"", "1", ".", "x.1", "1.x", "1.", ".1", "1.2.3", "-1.2", "1.-2", "+1.2", " 1.2",
		"1.4294967296",           // sub beyond uint32
		"18446744073709551616.0", // seq beyond uint64
	} {
		_, ok := parsePos(s)
		require.False(t, ok, "%q", s)
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 20; n++ {
		d := min(50*time.Millisecond<<min(n-1, 7), 5*time.Second)
		seen := map[time.Duration]bool{}
		for range 200 {
			b := backoff(n)
			require.GreaterOrEqual(t, b, d/2, "n=%d", n)
			require.LessOrEqual(t, b, d, "n=%d", n)
			seen[b] = true
		}
		require.Greater(t, len(seen), 1, "n=%d: jittered", n)
	}
	// Far past the cap, the wait stays within 2.5s..5s.
	require.LessOrEqual(t, backoff(100), 5*time.Second)
	require.GreaterOrEqual(t, backoff(100), 2500*time.Millisecond)
}

func TestBatchError(t *testing.T) {
	e0, e2, e5 := errors.New("0"), errors.New("2"), errors.New("5")
	err := batchError(map[int]error{0: e0, 2: e2, 5: e5})
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, map[int]error{0: e0, 2: e2, 5: e5}, be.Failed)
	require.NoError(t, batchError(map[int]error{}))
	require.NoError(t, batchError(nil))
}
