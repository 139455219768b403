package streams

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hydrant-io/hydrant/streams/internal/codec"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/streams/wal"
)

// encodeBuf holds one shard group's record positions during an Append.
// Pooled so that steady-state appends do not allocate. Records are encoded
// straight into the WAL's buffer (wal.Log.AppendEncoded), not here.
type encodeBuf struct {
	idx []int // positions in recs of this group's records
}

func (s *Stream) getBuf() *encodeBuf {
	if b, ok := s.pool.Get().(*encodeBuf); ok {
		return b
	}
	return &encodeBuf{}
}

func (s *Stream) putBuf(b *encodeBuf) {
	b.idx = b.idx[:0]
	s.pool.Put(b)
}

// Append routes each record to an open shard by the MD5 of its Key (a
// uniformly random open shard for an empty Key), writes each shard's group
// concurrently, and returns once all of them are durable. It sets Shard,
// Seq and ID of every record, and Arrived if zero.
//
// Over the disk budget it returns record.ErrBackpressure before writing
// anything. A full disk or quota (wal.ErrNoSpace) also wraps
// record.ErrBackpressure: the records of that shard were not written. On any other error some shard groups may already be durable: a
// producer that retries the whole batch may create duplicates, which
// at-least-once delivery allows. Meta is stored with the record.
func (s *Stream) Append(ctx context.Context, recs []record.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if s.opts.Budget.Over() {
		return fmt.Errorf("append to %s: disk budget of %d bytes used: %w", s.opts.Name, s.opts.Budget.Max(), record.ErrBackpressure)
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("append to %s: %w", s.opts.Name, record.ErrClosed)
	}
	t := s.routes
	groups := make([]*encodeBuf, len(t.open))
	for i := range recs {
		r := &recs[i]
		if r.Arrived.IsZero() {
			r.Arrived = now
		}
		g := 0
		if len(t.open) > 1 {
			g = t.route(r.Key)
		}
		if groups[g] == nil {
			groups[g] = s.getBuf()
		}
		groups[g].idx = append(groups[g].idx, i)
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	last := -1
	for g := range groups {
		if groups[g] != nil {
			last = g
		}
	}
	for g, b := range groups {
		if b == nil {
			continue
		}
		run := func() {
			if err := s.appendGroup(ctx, t.open[g], recs, b); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			s.putBuf(b)
		}
		if g == last {
			run() // the caller's goroutine takes the last group
		} else {
			wg.Go(run)
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("append to %s: %w", s.opts.Name, errors.Join(errs...))
	}
	s.appends.Add(1)
	s.appendedRecords.Add(uint64(len(recs)))
	return nil
}

// appendGroup encodes and appends b's records to sh, then stamps them.
func (s *Stream) appendGroup(ctx context.Context, sh *shard, recs []record.Record, b *encodeBuf) error {
	size := 0
	var dataBytes uint64
	for _, i := range b.idx {
		size += codec.SizeMax(&recs[i])
		dataBytes += uint64(len(recs[i].Data))
	}
	first, err := sh.log.AppendEncoded(ctx, len(b.idx), size, func(dst []byte, k int) []byte {
		return codec.Append(dst, &recs[b.idx[k]])
	})
	if errors.Is(err, wal.ErrNoSpace) {
		// A full disk or quota is weather: the producer retries later.
		return fmt.Errorf("shard %s: %w (%w)", sh.id, err, record.ErrBackpressure)
	}
	if err != nil {
		return fmt.Errorf("shard %s: %w", sh.id, err)
	}
	for k, i := range b.idx {
		r := &recs[i]
		r.Shard = sh.id
		r.Seq = first + uint64(k)
		r.ID = record.NewID(s.streamID, sh.index, r.Seq)
	}
	s.appendedBytes.Add(dataBytes)
	s.account(sh)
	return nil
}
