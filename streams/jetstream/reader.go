package jetstream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hydrant-io/hydrant/streams/internal/codec"
	"github.com/hydrant-io/hydrant/streams/record"
)

// readAhead caps the bytes a reader's consumer buffers ahead of Next.
const readAhead = 8 << 20

// Reader reads one shard in sequence order through an ordered consumer
// (ephemeral, recreated by the client after a server or leader change).
type Reader struct {
	s    *Stream
	sh   *shardInfo
	from uint64
	it   jetstream.MessagesContext
	// pending are decoded records not returned yet, pendingBytes their Data.
	pending      []record.Record
	pendingBytes int
}

// NewReader reads shard from sequence number from, or from the first
// retained record if from was purged or expired.
func (s *Stream) NewReader(ctx context.Context, shard record.ShardID, from uint64) (*Reader, error) {
	sh, err := s.shard(shard)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{sh.subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if msg, _ := splitSeq(from); msg > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, msg
	}
	cons, err := s.js.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("jetstream: read %s: %w", shard, err)
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(readAhead))
	if err != nil {
		return nil, fmt.Errorf("jetstream: read %s: %w", shard, err)
	}
	return &Reader{s: s, sh: sh, from: from, it: it}, nil
}

// Next returns the next records: at least one, then whatever else is
// already buffered, up to about maxBytes of Data (a message holds many
// records; what does not fit waits for the next call). It blocks until a
// record is stored or ctx is done.
func (r *Reader) Next(ctx context.Context, maxBytes int) ([]record.Record, error) {
	for len(r.pending) == 0 || r.pendingBytes < maxBytes {
		var msg jetstream.Msg
		var err error
		if len(r.pending) == 0 {
			msg, err = r.it.Next(jetstream.NextContext(ctx))
		} else {
			// Take what is already buffered without waiting for more.
			msg, err = r.it.Next(jetstream.NextMaxWait(time.Millisecond))
		}
		if err != nil {
			if len(r.pending) > 0 {
				break
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("jetstream: read %s: %w", r.sh.id, err)
		}
		recs, err := r.decode(msg)
		if err != nil {
			return nil, err
		}
		for i := range recs {
			r.pendingBytes += len(recs[i].Data)
		}
		r.pending = append(r.pending, recs...)
	}
	n, bytes := 0, 0
	for n < len(r.pending) && (n == 0 || bytes+len(r.pending[n].Data) <= maxBytes) {
		bytes += len(r.pending[n].Data)
		n++
	}
	out := r.pending[:n:n]
	r.pending = r.pending[n:]
	r.pendingBytes -= bytes
	if len(r.pending) == 0 {
		r.pending = nil
	}
	return out, nil
}

// decode turns one message into its records at or after r.from.
func (r *Reader) decode(msg jetstream.Msg) ([]record.Record, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("jetstream: read %s: %w", r.sh.id, err)
	}
	seq := meta.Sequence.Stream
	decs, err := decodeMessage(msg.Data())
	if err != nil {
		// Only Hydrant writes these subjects; a message it cannot read
		// is a bug or tampering, and skipping it would lose records.
		return nil, fmt.Errorf("jetstream: read %s at message %d: %w", r.sh.id, seq, err)
	}
	recs := codec.Records(decs)
	skip := 0
	if first, idx := splitSeq(r.from); first == seq {
		skip = min(idx, len(recs))
	}
	recs = recs[skip:]
	for i := range recs {
		recs[i].Shard = r.sh.id
		recs[i].Seq = seqOf(seq, skip+i)
		recs[i].ID = record.NewID(r.s.streamID, r.sh.index, recs[i].Seq)
	}
	if len(recs) > 0 {
		r.from = recs[len(recs)-1].Seq + 1
	}
	return recs, nil
}

// Close stops the consumer.
func (r *Reader) Close() error {
	r.it.Stop()
	return nil
}
