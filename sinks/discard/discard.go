// Package discard is a sink for benchmarks: it counts the records and
// bytes it is given and writes nothing, so that a benchmark measures
// ingest, the log and the delivery runtime without a destination's cost.
//
// It keeps the sink contract as an exactly-once sink would: per
// (pipeline, destination, shard) it remembers the last record.Position it
// counted and skips records at or below it, so a retried batch (same
// b.ID()), a retry carrying part of a batch, or records re-read (after a
// restart of delivery within one process) and cut into other batches are
// never counted twice. The positions live in memory: after the process
// restarts, records re-read from the last checkpoint are counted again.
// Memory is one position per shard, however many batches go through.
//
// This relies on the runtime's ordering for a sink that is not a
// sinks.Partitioner: one Write in flight per destination and shard, its
// batches in stream order. Discard does not partition.
package discard

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Sink counts and drops. The zero value is not usable: call New. It is
// safe for concurrent use.
type Sink struct {
	records, bytes atomic.Int64
	shards         sync.Map // shardKey -> *shardState
	closed         atomic.Bool
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Checker = (*Sink)(nil)
)

type shardKey struct {
	pipeline, destination string
	shard                 record.ShardID
}

// shardState is the last position counted in one shard.
type shardState struct {
	mu      sync.Mutex
	counted bool
	last    record.Position
}

// New returns an empty Sink.
func New() *Sink { return &Sink{} }

// Write counts the records of b it has not counted before. It fails only
// when ctx is done (the batch is then not counted) or after Close.
func (s *Sink) Write(ctx context.Context, b *record.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return record.ErrClosed
	}
	if len(b.Records) == 0 {
		return nil
	}
	k := shardKey{b.Pipeline, b.Destination, b.Shard}
	v, ok := s.shards.Load(k)
	if !ok {
		v, _ = s.shards.LoadOrStore(k, &shardState{})
	}
	st := v.(*shardState)
	st.mu.Lock()
	defer st.mu.Unlock()
	var n, size int64
	for i := range b.Records {
		r := &b.Records[i]
		p := r.Pos()
		if st.counted && !st.last.Less(p) {
			continue // counted before: a retry or a re-read
		}
		st.counted, st.last = true, p
		n++
		size += int64(len(r.Data))
	}
	s.records.Add(n)
	s.bytes.Add(size)
	return nil
}

// Stats returns how many records and bytes of data were counted.
func (s *Sink) Stats() (records, bytes int64) {
	return s.records.Load(), s.bytes.Load()
}

// Check implements sinks.Checker: there is nothing to reach.
func (s *Sink) Check(context.Context) error { return nil }

// Close makes later Writes fail with record.ErrClosed; Stats still work.
func (s *Sink) Close(context.Context) error {
	s.closed.Store(true)
	return nil
}
