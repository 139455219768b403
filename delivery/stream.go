package delivery

import (
	"context"

	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/jetstream"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Stream is the seam between the runtime and a stream backend: the handful
// of things delivery needs from a pipeline's sharded stream. The local log
// satisfies it through Local; tests use memstream; a NATS JetStream backend
// plugs in here. Nothing else of the backend leaks into the runtime.
type Stream interface {
	// Shards lists every shard still to be delivered, closed ones included
	// (their readers end with record.ErrShardEnded once read to the end).
	Shards() []record.ShardID
	// ShardsChanged returns a channel closed when the shard list changes
	// (a split or merge); the runtime then starts workers for new shards.
	ShardsChanged() <-chan struct{}
	// NewReader reads shard from sequence number from (or from the first
	// retained record, if from is gone).
	NewReader(shard record.ShardID, from uint64) (Reader, error)
	// Checkpoint is the next sequence number destination should deliver
	// from shard: everything below it is resolved.
	Checkpoint(ctx context.Context, destination string, shard record.ShardID) (uint64, error)
	// Commit durably records that destination resolved every record of
	// shard below next. It never moves a checkpoint backwards.
	Commit(ctx context.Context, destination string, shard record.ShardID, next uint64) error
}

// Reader reads one shard in sequence order; one goroutine owns it.
type Reader interface {
	// Next returns the next records (at least one, up to about maxBytes of
	// Data), blocking until one is durable or ctx is done. The records are
	// the caller's to keep. At the end of a closed shard it returns
	// record.ErrShardEnded.
	Next(ctx context.Context, maxBytes int) ([]record.Record, error)
	Close() error
}

// Local adapts the local sharded log to Stream.
func Local(s *streams.Stream) Stream { return localStream{s} }

type localStream struct{ s *streams.Stream }

func (l localStream) Shards() []record.ShardID {
	info := l.s.Shards()
	ids := make([]record.ShardID, len(info))
	for i, sh := range info {
		ids[i] = sh.ID
	}
	return ids
}

func (l localStream) ShardsChanged() <-chan struct{} { return l.s.ShardsChanged() }

func (l localStream) NewReader(shard record.ShardID, from uint64) (Reader, error) {
	r, err := l.s.NewReader(shard, from)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (l localStream) Checkpoint(_ context.Context, destination string, shard record.ShardID) (uint64, error) {
	return l.s.Checkpoint(destination, shard), nil
}

func (l localStream) Commit(ctx context.Context, destination string, shard record.ShardID, next uint64) error {
	return l.s.Commit(ctx, destination, shard, next)
}

// Leaser shares a stream's delivery among nodes: each (destination,
// shard) is worked on by one node at a time, the holder of its lease. The
// runtime then works on a shard only while it holds the lease, and asks
// for it again when it has handed it over.
type Leaser interface {
	// Lease blocks until this node holds destination's lease on shard, or
	// ctx is done.
	Lease(ctx context.Context, destination string, shard record.ShardID) (Lease, error)
}

// Lease is a held (destination, shard).
type Lease interface {
	// Revoked is closed when the lease should move to another node: the
	// runtime stops reading, flushes and commits, then releases it.
	Revoked() <-chan struct{}
	// Lost is closed when the lease is gone: another node may deliver the
	// shard already, so writes stop at once (what was written and not
	// committed is delivered again by the next holder).
	Lost() <-chan struct{}
	// Release hands the lease back.
	Release()
}

// JetStream adapts a pipeline's stream on NATS JetStream to Stream, and
// its leases to Leaser (Options.Leases).
func JetStream(s *jetstream.Stream) (Stream, Leaser) { return jetStream{s}, jetStream{s} }

type jetStream struct{ s *jetstream.Stream }

func (j jetStream) Shards() []record.ShardID       { return j.s.ShardIDs() }
func (j jetStream) ShardsChanged() <-chan struct{} { return j.s.ShardsChanged() }

func (j jetStream) NewReader(shard record.ShardID, from uint64) (Reader, error) {
	r, err := j.s.NewReader(context.Background(), shard, from)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (j jetStream) Checkpoint(ctx context.Context, destination string, shard record.ShardID) (uint64, error) {
	return j.s.Checkpoint(ctx, destination, shard)
}

func (j jetStream) Commit(ctx context.Context, destination string, shard record.ShardID, next uint64) error {
	return j.s.Commit(ctx, destination, shard, next)
}

func (j jetStream) Lease(ctx context.Context, destination string, shard record.ShardID) (Lease, error) {
	l, err := j.s.Lease(ctx, destination, shard)
	if err != nil {
		return nil, err
	}
	return l, nil
}
