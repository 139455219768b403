package delivery_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/streams/jetstream"
	"github.com/hydrant-io/hydrant/streams/jetstream/jstest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// openJetStream is the runtime's test stream on an embedded NATS server,
// through the same adapter and leases serve uses (one node, so it soon
// holds every lease).
func openJetStream(t *testing.T, shards int) *testStream {
	t.Helper()
	c := jstest.Start(t, 1)
	b, err := jetstream.Connect(t.Context(), jetstream.Options{URLs: c.URLs(), Node: "test", LeaseTTL: 2 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	s, err := b.OpenStream(t.Context(), jetstream.StreamOptions{Name: "p", Shards: shards, Consumers: []string{"d"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	// The end of a shard is one past its last record's sequence number
	// (sequence numbers of a JetStream stream are not dense).
	var mu sync.Mutex
	end := map[record.ShardID]uint64{}
	src, leases := delivery.JetStream(s)
	return &testStream{
		Stream: src,
		leases: leases,
		append: func(ctx context.Context, recs []record.Record) error {
			if err := s.Append(ctx, recs); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				end[r.Shard] = max(end[r.Shard], r.Seq+1)
			}
			return nil
		},
		end: func(id record.ShardID) uint64 {
			mu.Lock()
			defer mu.Unlock()
			return end[id]
		},
		split: func(t *testing.T, _ record.ShardID) { t.Skip("the JetStream backend has fixed shards") },
	}
}
