package discard

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

func TestDiscard_Conformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			s := New()
			return &sinktest.Target{
				Sink:  s,
				Count: func(*testing.T) (int64, int64) { return s.Stats() },
				// No Break: there is no destination to lose.
			}
		},
		// No Bad: discard accepts every record. No Misconfigured: it
		// has no configuration.
		ExactlyOnce: true,
	})
}

func TestDiscard_CountsOncePerPosition(t *testing.T) {
	s := New()
	recs := sinktest.Records(sinktest.Shard(0), 1, 4, 3) // 12 records
	b := sinktest.Batch(recs)
	require.NoError(t, s.Write(t.Context(), b))
	n, size := s.Stats()
	require.EqualValues(t, 12, n)
	require.Equal(t, b.Bytes(), size)

	require.NoError(t, s.Write(t.Context(), sinktest.Retry(b, 5, 6, 11)))
	n2, size2 := s.Stats()
	require.Equal(t, n, n2, "a retry of part of a batch is not counted again")
	require.Equal(t, size, size2)

	// The same positions in another pipeline, destination or shard count.
	other := sinktest.Batch(sinktest.Records(sinktest.Shard(1), 1, 4, 3))
	require.NoError(t, s.Write(t.Context(), other))
	other.Destination = "another"
	require.NoError(t, s.Write(t.Context(), other))
	n, _ = s.Stats()
	require.EqualValues(t, 36, n)

	// Re-read after a restart and cut elsewhere (another identity): only
	// what is past the last position counted, 4.2, is new.
	next := sinktest.Batch(sinktest.Records(sinktest.Shard(0), 4, 2, 3)[2:])
	require.Equal(t, record.Position{Seq: 4, Sub: 2}, record.Position{Seq: next.First, Sub: next.FirstSub})
	require.NoError(t, s.Write(t.Context(), next))
	n, _ = s.Stats()
	require.EqualValues(t, 36+3, n, "5.0 to 5.2 are new")
}

func TestDiscard_StatsAreSafeForConcurrentUse(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for _, b := range sinktest.Cut(sinktest.Records(sinktest.Shard(g), 1, 100, 1), 10) {
				if err := s.Write(t.Context(), b); err != nil {
					t.Error(err)
				}
				s.Stats()
			}
		})
	}
	wg.Wait()
	n, _ := s.Stats()
	require.EqualValues(t, 800, n)
}

func TestDiscard_CheckAndClose(t *testing.T) {
	s := New()
	require.NoError(t, s.Check(t.Context()))
	require.NoError(t, s.Close(t.Context()))
	err := s.Write(t.Context(), sinktest.Batch(sinktest.Records(sinktest.Shard(0), 1, 1, 1)))
	require.True(t, errors.Is(err, record.ErrClosed), "Write after Close: %v", err)
}
