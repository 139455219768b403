package delivery_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/delivery/memstream"
	"github.com/hydrant-io/hydrant/streams/record"
)

// leasedStream is the in-memory stream with leases the test hands out,
// revokes and loses.
type leasedStream struct {
	*memstream.Stream
	grants   chan *fakeLease // Lease takes the next one
	mu       sync.Mutex
	released int
}

type fakeLease struct {
	s              *leasedStream
	revoked, lost  chan struct{}
	once           sync.Once
	revokeN, loseN sync.Once
}

func (l *fakeLease) Revoked() <-chan struct{} { return l.revoked }
func (l *fakeLease) Lost() <-chan struct{}    { return l.lost }
func (l *fakeLease) Release() {
	l.once.Do(func() {
		l.s.mu.Lock()
		l.s.released++
		l.s.mu.Unlock()
	})
}
func (l *fakeLease) revoke() { l.revokeN.Do(func() { close(l.revoked) }) }
func (l *fakeLease) lose()   { l.loseN.Do(func() { close(l.lost) }) }

func (s *leasedStream) Lease(ctx context.Context, _ string, _ record.ShardID) (delivery.Lease, error) {
	select {
	case l := <-s.grants:
		return l, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *leasedStream) grant() *fakeLease {
	l := &fakeLease{s: s, revoked: make(chan struct{}), lost: make(chan struct{})}
	s.grants <- l
	return l
}

func (s *leasedStream) releases() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.released
}

func newLeased() *leasedStream {
	return &leasedStream{Stream: memstream.New(1), grants: make(chan *fakeLease)}
}

func recs(n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{Data: []byte{'a' + byte(i%26)}}
	}
	return out
}

func TestLeases_NothingIsReadWithoutALease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newLeased()
		s.Append(recs(10)...)
		sink := &fakeSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Leases: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Empty(t, sink.delivered(), "no lease, no delivery")
		s.grant()
		time.Sleep(time.Second)
		synctest.Wait()
		require.Len(t, sink.delivered(), 10)
		stop()
	})
}

func TestLeases_RevokedHandsOverAfterFlushAndCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newLeased()
		sink := &fakeSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Leases: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Hour},
		}}})
		l := s.grant()
		s.Append(recs(25)...)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Empty(t, sink.delivered(), "buffered, not due yet")
		l.revoke()
		synctest.Wait()
		require.Len(t, sink.delivered(), 25, "the buffer is flushed before the lease goes")
		next, err := s.Checkpoint(t.Context(), "d", "shardId-000000000000")
		require.NoError(t, err)
		require.Equal(t, s.Len("shardId-000000000000"), next, "and committed")
		require.Equal(t, 1, s.releases())
		// The runtime asks for the lease again; the next holder (here the
		// same node) goes on from the checkpoint.
		s.grant()
		s.Append(recs(5)...)
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		require.Len(t, sink.delivered(), 30, "nothing twice")
		stop()
	})
}

func TestLeases_LostStopsWritingWithoutCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newLeased()
		sink := &fakeSink{block: make(chan struct{})}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Leases: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
			Retry: time.Hour,
		}}})
		l := s.grant()
		s.Append(recs(10)...)
		time.Sleep(time.Second)
		synctest.Wait() // the write is blocked in the sink
		l.lose()
		synctest.Wait()
		require.Equal(t, 1, s.releases(), "a lost lease ends the work on the shard")
		next, err := s.Checkpoint(t.Context(), "d", "shardId-000000000000")
		require.NoError(t, err)
		require.Zero(t, next, "nothing is committed: the next holder delivers it")
		require.Empty(t, sink.delivered())
		stop()
	})
}
