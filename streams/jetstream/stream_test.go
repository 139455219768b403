package jetstream

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/internal/hashkey"
	"github.com/hydrant-io/hydrant/streams/jetstream/jstest"
	"github.com/hydrant-io/hydrant/streams/record"
)

func connect(t *testing.T, c *jstest.Cluster, node string, ttl time.Duration) *Backend {
	t.Helper()
	b, err := Connect(context.Background(), Options{URLs: c.URLs(), Node: node, LeaseTTL: ttl, Replicas: min(len(c.Servers), 3)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func openStream(t *testing.T, b *Backend, name string, shards int, consumers ...string) *Stream {
	t.Helper()
	s, err := b.OpenStream(context.Background(), StreamOptions{Name: name, Shards: shards, Consumers: consumers, MaxRecordBytes: 1_024_000})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStream_AppendReadRoutesLikeKinesis(t *testing.T) {
	c := jstest.Start(t, 1)
	b := connect(t, c, "n1", 2*time.Second)
	s := openStream(t, b, "clicks.v1", 4, "lake")
	ctx := context.Background()

	var recs []record.Record
	for i := range 1000 {
		recs = append(recs, record.Record{Key: "user-" + strconv.Itoa(i%37), Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	recs = append(recs, record.Record{Data: make([]byte, 1_000_000)}) // no key, one big record
	require.NoError(t, s.Append(ctx, recs))
	ids := map[string]bool{}
	starts := s.starts
	perShard := map[record.ShardID][]record.Record{}
	for i, r := range recs {
		require.NotEmpty(t, r.ID)
		require.False(t, ids[r.ID], "ids are unique")
		ids[r.ID] = true
		if r.Key != "" {
			require.Equal(t, s.shards[hashkey.Route(starts, r.Key)].id, r.Shard, "record %d routed by MD5", i)
		}
		perShard[r.Shard] = append(perShard[r.Shard], r)
	}
	for shard, want := range perShard {
		rd, err := s.NewReader(ctx, shard, 0)
		require.NoError(t, err)
		var got []record.Record
		for len(got) < len(want) {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			more, err := rd.Next(rctx, 1<<20)
			cancel()
			require.NoError(t, err)
			got = append(got, more...)
		}
		require.NoError(t, rd.Close())
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, want[i].Seq, got[i].Seq)
			require.Equal(t, want[i].ID, got[i].ID)
			require.Equal(t, want[i].Key, got[i].Key)
			require.Equal(t, want[i].Data, got[i].Data)
			require.Equal(t, want[i].Arrived.UnixMilli(), got[i].Arrived.UnixMilli())
		}
		// A reader from the middle of a message starts at that record.
		mid := want[len(want)/2]
		rd, err = s.NewReader(ctx, shard, mid.Seq)
		require.NoError(t, err)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		more, err := rd.Next(rctx, 1<<20)
		cancel()
		require.NoError(t, err)
		require.Equal(t, mid.Seq, more[0].Seq)
		require.NoError(t, rd.Close())
	}
}

func TestStream_NextHonoursContext(t *testing.T) {
	c := jstest.Start(t, 1)
	s := openStream(t, connect(t, c, "n1", 2*time.Second), "p", 1)
	rd, err := s.NewReader(context.Background(), s.shards[0].id, 0)
	require.NoError(t, err)
	defer rd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = rd.Next(ctx, 1<<20)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestStream_CommitNeverMovesBack(t *testing.T) {
	c := jstest.Start(t, 1)
	s := openStream(t, connect(t, c, "n1", 2*time.Second), "p", 2, "d")
	ctx := context.Background()
	sh := s.shards[1].id
	next, err := s.Checkpoint(ctx, "d", sh)
	require.NoError(t, err)
	require.Zero(t, next)
	require.NoError(t, s.Commit(ctx, "d", sh, 500))
	require.NoError(t, s.Commit(ctx, "d", sh, 200))
	next, err = s.Checkpoint(ctx, "d", sh)
	require.NoError(t, err)
	require.Equal(t, uint64(500), next)
	// Another node sees the same checkpoint.
	s2 := openStream(t, connect(t, c, "n2", 2*time.Second), "p", 2, "d")
	next, err = s2.Checkpoint(ctx, "d", sh)
	require.NoError(t, err)
	require.Equal(t, uint64(500), next)
}

func TestStream_RefusesAnotherShardCount(t *testing.T) {
	c := jstest.Start(t, 1)
	b := connect(t, c, "n1", 2*time.Second)
	openStream(t, b, "p", 2)
	_, err := b.OpenStream(context.Background(), StreamOptions{Name: "p", Shards: 3})
	require.ErrorContains(t, err, "has 2 shards, the config says 3")
}

func TestStream_TrimPurgesDelivered(t *testing.T) {
	c := jstest.Start(t, 1)
	s := openStream(t, connect(t, c, "n1", 2*time.Second), "p", 1, "a", "b")
	ctx := context.Background()
	var last uint64
	for range 10 {
		recs := []record.Record{{Data: []byte("x")}}
		require.NoError(t, s.Append(ctx, recs))
		last = recs[0].Seq
	}
	sh := s.shards[0].id
	require.NoError(t, s.Commit(ctx, "a", sh, last+1))
	require.NoError(t, s.Trim(ctx))
	require.Equal(t, uint64(10), s.Stats(ctx).Messages, "b has not delivered yet")
	require.NoError(t, s.Commit(ctx, "b", sh, last))
	require.NoError(t, s.Trim(ctx))
	require.Equal(t, uint64(1), s.Stats(ctx).Messages, "only b's last record is left")
}

func TestStream_FullStreamIsBackpressure(t *testing.T) {
	c := jstest.Start(t, 1)
	b := connect(t, c, "n1", 2*time.Second)
	s, err := b.OpenStream(context.Background(), StreamOptions{Name: "p", Shards: 1, MaxBytes: 64 << 10})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	var lastErr error
	for range 20 {
		if lastErr = s.Append(ctx, []record.Record{{Data: make([]byte, 16<<10)}}); lastErr != nil {
			break
		}
	}
	require.ErrorIs(t, lastErr, record.ErrBackpressure)
}

func TestStream_RepeatedRequestIsStoredOnce(t *testing.T) {
	c := jstest.Start(t, 1)
	b1 := connect(t, c, "n1", 2*time.Second)
	s1 := openStream(t, b1, "p", 4)
	s2 := openStream(t, connect(t, c, "n2", 2*time.Second), "p", 4) // another node
	send := func(s *Stream, id string) []record.Record {
		recs := make([]record.Record, 50)
		for i := range recs {
			recs[i] = record.Record{Data: []byte(fmt.Sprintf("r%d", i))} // keyless, as Firehose sends
		}
		require.NoError(t, s.Append(record.WithDedupID(context.Background(), id), recs))
		return recs
	}
	first := send(s1, "req-1\n\x00odd")
	before := s1.Stats(context.Background()).Messages
	again := send(s2, "req-1\n\x00odd") // Firehose retries the request on another node
	require.Equal(t, before, s1.Stats(context.Background()).Messages, "the repeat stored nothing")
	for i := range first {
		require.Equal(t, first[i].ID, again[i].ID, "the repeat answers with the first request's record ids")
	}
	send(s2, "req-2")
	require.Greater(t, s1.Stats(context.Background()).Messages, before, "another request id is stored")
}
