// Package memstream is an in-memory delivery.Stream for tests of the
// delivery runtime (and of anything built on it): shards, appends,
// checkpoints and shard ends without a disk. It keeps every record; it is
// not a stream backend.
package memstream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/streams/record"
)

var _ delivery.Stream = (*Stream)(nil)

// Stream holds shards in memory. It is safe for concurrent use.
type Stream struct {
	mu      sync.Mutex
	shards  []*shard
	byID    map[record.ShardID]*shard
	changed chan struct{}
	cps     map[string]uint64 // destination + "\x00" + shard -> next
	next    int               // round-robin over open shards for Append
	// commits counts Commit calls, for tests that check throttling.
	commits int
}

type shard struct {
	id    record.ShardID
	recs  []record.Record
	ended bool
	wake  chan struct{} // closed and replaced on append or end
}

// New returns a stream with n open shards.
func New(n int) *Stream {
	s := &Stream{byID: map[record.ShardID]*shard{}, changed: make(chan struct{}), cps: map[string]uint64{}}
	for range n {
		s.addLocked()
	}
	return s
}

func (s *Stream) addLocked() *shard {
	sh := &shard{id: record.ShardID(fmt.Sprintf("shardId-%012d", len(s.shards))), wake: make(chan struct{})}
	s.shards = append(s.shards, sh)
	s.byID[sh.id] = sh
	return sh
}

// Append spreads recs over the open shards, one record at a time in turn,
// setting Shard, Seq, ID and (if zero) Arrived.
func (s *Stream) Append(recs ...record.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		var sh *shard
		for sh == nil || sh.ended {
			sh = s.shards[s.next%len(s.shards)]
			s.next++
		}
		s.appendLocked(sh, r)
	}
}

// AppendTo appends recs to one shard.
func (s *Stream) AppendTo(id record.ShardID, recs ...record.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.appendLocked(s.byID[id], r)
	}
}

func (s *Stream) appendLocked(sh *shard, r record.Record) {
	r.Shard, r.Seq = sh.id, uint64(len(sh.recs))
	r.ID = fmt.Sprintf("%s-%d", sh.id, r.Seq)
	if r.Arrived.IsZero() {
		r.Arrived = time.Now()
	}
	sh.recs = append(sh.recs, r)
	close(sh.wake)
	sh.wake = make(chan struct{})
}

// Split ends shard id and opens two new shards, as a Kinesis split does
// (without hash ranges: Append spreads over open shards). It returns the
// children's ids.
func (s *Stream) Split(id record.ShardID) [2]record.ShardID {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.byID[id]
	sh.ended = true
	close(sh.wake)
	sh.wake = make(chan struct{})
	a, b := s.addLocked(), s.addLocked()
	close(s.changed)
	s.changed = make(chan struct{})
	return [2]record.ShardID{a.id, b.id}
}

// Len is the number of records appended to shard id.
func (s *Stream) Len(id record.ShardID) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.byID[id].recs))
}

// Commits counts successful Commit calls.
func (s *Stream) Commits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits
}

// Shards implements delivery.Stream.
func (s *Stream) Shards() []record.ShardID {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]record.ShardID, len(s.shards))
	for i, sh := range s.shards {
		ids[i] = sh.id
	}
	return ids
}

// ShardsChanged implements delivery.Stream.
func (s *Stream) ShardsChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Checkpoint implements delivery.Stream.
func (s *Stream) Checkpoint(_ context.Context, destination string, shard record.ShardID) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cps[destination+"\x00"+string(shard)], nil
}

// Commit implements delivery.Stream. Like the local log, it refuses a
// checkpoint past the shard's end and never moves one backwards.
func (s *Stream) Commit(_ context.Context, destination string, shard record.ShardID, next uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.byID[shard]
	if sh == nil {
		return fmt.Errorf("memstream: commit %s: no such shard", shard)
	}
	if next > uint64(len(sh.recs)) {
		return fmt.Errorf("memstream: commit %s at %d past its end %d", shard, next, len(sh.recs))
	}
	k := destination + "\x00" + string(shard)
	s.cps[k] = max(s.cps[k], next)
	s.commits++
	return nil
}

// NewReader implements delivery.Stream.
func (s *Stream) NewReader(shard record.ShardID, from uint64) (delivery.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.byID[shard]
	if sh == nil {
		return nil, fmt.Errorf("memstream: read %s: no such shard", shard)
	}
	return &Reader{s: s, sh: sh, pos: from}, nil
}

// Reader reads one shard of a Stream.
type Reader struct {
	s   *Stream
	sh  *shard
	pos uint64
}

// Next implements delivery.Reader.
func (r *Reader) Next(ctx context.Context, maxBytes int) ([]record.Record, error) {
	for {
		r.s.mu.Lock()
		n, ended, wake := uint64(len(r.sh.recs)), r.sh.ended, r.sh.wake
		if r.pos < n {
			var out []record.Record
			size := 0
			for i := r.pos; i < n && (len(out) == 0 || size+len(r.sh.recs[i].Data) <= maxBytes); i++ {
				out = append(out, r.sh.recs[i])
				size += len(r.sh.recs[i].Data)
			}
			r.pos += uint64(len(out))
			r.s.mu.Unlock()
			return out, nil
		}
		r.s.mu.Unlock()
		if ended {
			return nil, record.ErrShardEnded
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close implements delivery.Reader.
func (r *Reader) Close() error { return nil }
