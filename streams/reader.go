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

// Reader reads one shard in sequence order. It is not safe for concurrent
// use; open one Reader per shard and consumer.
type Reader struct {
	s   *Stream
	sh  *shard
	wr  *wal.Reader
	pos uint64
}

// NewReader returns a Reader of shard positioned at from, or at the shard's
// first retained record if from was trimmed or dropped by retention.
func (s *Stream) NewReader(shard record.ShardID, from uint64) (*Reader, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, record.ErrClosed
	}
	sh := s.byID[shard]
	if sh == nil {
		return nil, fmt.Errorf("read %s: %w", shard, ErrShardNotFound)
	}
	r := &Reader{s: s, sh: sh, pos: from}
	if sh.log != nil {
		r.wr = sh.log.NewReader(from)
		r.pos = r.wr.Pos()
	} else {
		r.pos = max(from, sh.def.endSeq)
	}
	return r, nil
}

// Pos returns the sequence number of the next record Next will return.
func (r *Reader) Pos() uint64 { return r.pos }

// Shard returns the shard this Reader reads.
func (r *Reader) Shard() record.ShardID { return r.sh.id }

// Close releases the Reader.
func (r *Reader) Close() error {
	if r.wr == nil {
		return nil
	}
	return r.wr.Close()
}

// Next returns the next records, with up to maxBytes of Data in total (at
// least one record). It blocks until a durable record is available or ctx
// is done. The records own their Data and Key, so the caller may keep them.
// At the end of a closed shard it returns ErrShardEnded; after Stream.Close,
// record.ErrClosed.
func (r *Reader) Next(ctx context.Context, maxBytes int) ([]record.Record, error) {
	for {
		r.s.mu.RLock()
		def, closed := r.sh.def, r.s.closed
		r.s.mu.RUnlock()
		switch {
		case closed:
			return nil, record.ErrClosed
		case def.closed && (def.drained || r.pos >= def.endSeq):
			return nil, ErrShardEnded
		}
		ents, err := r.next(ctx, maxBytes, !def.closed)
		if err == nil {
			return r.decode(ents)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, wal.ErrClosed) {
			continue // the shard ended, was drained, or the stream closed: re-check
		}
		return nil, fmt.Errorf("read %s at %d: %w", r.sh.id, r.pos, err)
	}
}

// next waits for WAL entries, waking up early when the shard is closed (if
// watchEnd: its end may have been reached) or the stream is closed.
func (r *Reader) next(ctx context.Context, maxBytes int, watchEnd bool) ([]wal.Entry, error) {
	ctx, cancel := context.WithCancel(ctx)
	ended := r.sh.ended
	if !watchEnd {
		// Every record of a closed shard is durable, so Next cannot block
		// below its end; only stream close matters.
		ended = nil
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ended:
		case <-r.s.done:
		case <-ctx.Done():
			return
		}
		cancel()
	})
	defer wg.Wait()
	defer cancel()
	return r.wr.Next(ctx, maxBytes)
}

// decode turns entries into records.
func (r *Reader) decode(ents []wal.Entry) ([]record.Record, error) {
	decs := make([]codec.Decoded, len(ents))
	for i, e := range ents {
		d, err := codec.Decode(e.Data)
		if err != nil {
			return nil, fmt.Errorf("read %s at %d: %w", r.sh.id, e.Seq, err)
		}
		decs[i] = d
	}
	out := codec.Records(decs)
	for i := range out {
		seq := ents[i].Seq
		out[i].ID = record.NewID(r.s.streamID, r.sh.index, seq)
		out[i].Shard = r.sh.id
		out[i].Seq = seq
	}
	r.pos = ents[len(ents)-1].Seq + 1
	return out, nil
}
