package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hydrant-io/hydrant/streams/internal/hashkey"
	"github.com/hydrant-io/hydrant/streams/record"
)

// StreamOptions configure one pipeline's stream.
type StreamOptions struct {
	// Name is the pipeline name (required).
	Name string
	// Shards is the shard count; an existing stream must have the same.
	Shards int
	// Retention is how long records are kept even if not delivered
	// (JetStream's MaxAge); default 24h.
	Retention time.Duration
	// MaxBytes caps the undelivered bytes the stream holds; past it
	// appends fail with record.ErrBackpressure. 0 = no limit.
	MaxBytes int64
	// Consumers are the destinations; records every one of them delivered
	// are purged.
	Consumers []string
	// MaxRecordBytes is the largest record's Data; it must fit in one
	// message of the cluster's max_payload.
	MaxRecordBytes int
}

// metaShards is the stream metadata key that records the shard count.
const metaShards = "hydrant.shards"

// trimEvery is how often a node purges what every destination delivered.
const trimEvery = 30 * time.Second

// Stream is one pipeline's stream on JetStream. It is safe for
// concurrent use.
type Stream struct {
	b        *Backend
	opts     StreamOptions
	name     string // the JetStream stream's name
	log      *slog.Logger
	js       jetstream.Stream
	streamID uint64
	shards   []shardInfo
	starts   []hashkey.Key
	maxBody  int

	msgSeq                                  atomic.Uint64
	appends, appendedRecords, appendedBytes atomic.Uint64

	stopTrim context.CancelFunc
	wg       sync.WaitGroup
}

type shardInfo struct {
	id         record.ShardID
	index      uint32
	subject    string
	start, end hashkey.Key
}

// OpenStream creates the pipeline's stream on the cluster, or checks and
// updates the existing one (retention and limits follow the config;
// the shard count cannot change).
func (b *Backend) OpenStream(ctx context.Context, opts StreamOptions) (*Stream, error) {
	if opts.Name == "" {
		return nil, errors.New("jetstream: stream needs a name")
	}
	if opts.Shards <= 0 {
		opts.Shards = 1
	}
	if opts.Retention <= 0 {
		opts.Retention = 24 * time.Hour
	}
	s := &Stream{b: b, opts: opts, name: "HYDRANT_" + token(opts.Name), log: b.log.With("pipeline", opts.Name)}
	s.maxBody = int(b.nc.MaxPayload()) - 1024 // room for headers
	if need := opts.MaxRecordBytes + 512; opts.MaxRecordBytes > 0 && need > s.maxBody {
		return nil, fmt.Errorf("jetstream: records of up to %d bytes do not fit the cluster's max_payload of %d bytes; raise max_payload on the NATS servers or lower server.limits.max_record_bytes", opts.MaxRecordBytes, b.nc.MaxPayload())
	}
	subjectPrefix := "hydrant." + token(opts.Name) + "."
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	cfg := jetstream.StreamConfig{
		Name:        s.name,
		Description: "Hydrant pipeline " + opts.Name,
		Subjects:    []string{subjectPrefix + "*"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      opts.Retention,
		MaxBytes:    maxBytes,
		// A full stream refuses new records (503 to producers) instead of
		// dropping undelivered old ones.
		Discard:    jetstream.DiscardNew,
		Storage:    jetstream.FileStorage,
		Replicas:   b.opts.Replicas,
		Duplicates: 2 * time.Minute,
		Metadata:   map[string]string{metaShards: strconv.Itoa(opts.Shards)},
	}
	existing, err := b.js.Stream(ctx, s.name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s.js, err = retrySetup(ctx, func() (jetstream.Stream, error) { return b.js.CreateOrUpdateStream(ctx, cfg) })
	case err != nil:
	default:
		have := existing.CachedInfo().Config.Metadata[metaShards]
		if have != cfg.Metadata[metaShards] {
			return nil, fmt.Errorf("jetstream: stream %s has %s shards, the config says %d: changing the shard count of a JetStream pipeline is not supported", s.name, have, opts.Shards)
		}
		s.js, err = retrySetup(ctx, func() (jetstream.Stream, error) { return b.js.CreateOrUpdateStream(ctx, cfg) })
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", s.name, err)
	}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s\x00%d", opts.Name, s.js.CachedInfo().Created.UnixNano())
	s.streamID = h.Sum64()
	for i, r := range hashkey.InitialRanges(opts.Shards) {
		id := record.ShardID(fmt.Sprintf("shardId-%012d", i))
		s.shards = append(s.shards, shardInfo{id: id, index: uint32(i), subject: subjectPrefix + strconv.Itoa(i), start: r[0], end: r[1]})
		s.starts = append(s.starts, r[0])
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopTrim = cancel
	s.wg.Go(func() { s.trimLoop(ctx) })
	b.mu.Lock()
	b.streams[opts.Name] = s
	b.mu.Unlock()
	return s, nil
}

// Close stops the stream's background work; the stream stays on the cluster.
func (s *Stream) Close() error {
	s.stopTrim()
	s.wg.Wait()
	s.b.mu.Lock()
	delete(s.b.streams, s.opts.Name)
	s.b.mu.Unlock()
	return nil
}

// ShardIDs lists the shards.
func (s *Stream) ShardIDs() []record.ShardID {
	ids := make([]record.ShardID, len(s.shards))
	for i, sh := range s.shards {
		ids[i] = sh.id
	}
	return ids
}

// ShardRange returns a shard's hash-key range in decimal.
func (s *Stream) ShardRange(i int) (index uint32, id record.ShardID, start, end string) {
	sh := s.shards[i]
	return sh.index, sh.id, sh.start.String(), sh.end.String()
}

// neverChanges is a channel that is never closed: the shard map of a
// JetStream stream is fixed.
var neverChanges = make(chan struct{})

// ShardsChanged returns a channel that is never closed.
func (s *Stream) ShardsChanged() <-chan struct{} { return neverChanges }

func (s *Stream) shard(id record.ShardID) (*shardInfo, error) {
	for i := range s.shards {
		if s.shards[i].id == id {
			return &s.shards[i], nil
		}
	}
	return nil, fmt.Errorf("jetstream: stream %s has no shard %s", s.opts.Name, id)
}

// Append stores recs: each shard's records in as few messages as
// max_payload allows, published concurrently. It returns once JetStream
// acknowledged every message; then every recs[i] has ID, Shard and Seq.
// It copies what it keeps. A publish that is not acknowledged is retried
// with the same message id (JetStream drops the copy if the first landed)
// until PublishTimeout; then Append fails with record.ErrBackpressure and
// the producer retries, which may store records twice, as on Firehose.
func (s *Stream) Append(ctx context.Context, recs []record.Record) error {
	if len(recs) == 0 {
		return nil
	}
	now := time.Now()
	// A request the producer may repeat (record.WithDedupID) becomes the
	// same messages every time, on any node: keyless records are routed
	// by the id instead of at random, and message ids derive from it, so
	// JetStream drops a repeat within its duplicate window.
	dedup := record.DedupID(ctx)
	if dedup != "" {
		// Any text may come in; a digest is safe in a header.
		sum := sha256.Sum256([]byte(dedup))
		dedup = hex.EncodeToString(sum[:16])
	}
	groups := make([][]int, len(s.shards))
	for i := range recs {
		if recs[i].Arrived.IsZero() {
			recs[i].Arrived = now
		}
		key := recs[i].Key
		if key == "" && dedup != "" {
			key = dedup + "/" + strconv.Itoa(i)
		}
		g := hashkey.Route(s.starts, key)
		groups[g] = append(groups[g], i)
	}
	type chunk struct {
		shard *shardInfo
		idx   []int
		body  []byte
		msgID string
	}
	var chunks []chunk
	var dataBytes uint64
	for g, idx := range groups {
		var c chunk
		for _, i := range idx {
			r := &recs[i]
			dataBytes += uint64(len(r.Data))
			if len(c.idx) > 0 && (len(c.body)+frameSize(r) > s.maxBody || len(c.idx) == maxPerMessage) {
				chunks = append(chunks, c)
				c = chunk{}
			}
			c.shard = &s.shards[g]
			c.idx = append(c.idx, i)
			c.body = appendFrame(c.body, r)
		}
		if len(c.idx) > 0 {
			chunks = append(chunks, c)
		}
	}
	for k := range chunks {
		if dedup != "" {
			chunks[k].msgID = "rq-" + dedup + "-" + strconv.Itoa(k)
		} else {
			chunks[k].msgID = s.b.msgPrefix + strconv.FormatUint(s.msgSeq.Add(1), 36)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.b.opts.PublishTimeout)
	defer cancel()
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for k := range chunks {
		c := &chunks[k]
		publish := func() {
			seq, err := s.publish(ctx, c.shard.subject, c.msgID, c.body)
			if err != nil {
				errs[k] = fmt.Errorf("shard %s: %w", c.shard.id, err)
				return
			}
			for j, i := range c.idx {
				r := &recs[i]
				r.Shard = c.shard.id
				r.Seq = seqOf(seq, j)
				r.ID = record.NewID(s.streamID, c.shard.index, r.Seq)
			}
		}
		if k == len(chunks)-1 {
			publish()
		} else {
			wg.Go(publish)
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("append to %s: %w", s.opts.Name, err)
	}
	s.appends.Add(1)
	s.appendedRecords.Add(uint64(len(recs)))
	s.appendedBytes.Add(dataBytes)
	return nil
}

// publish stores one message and returns its stream sequence, retrying
// with the same message id while JetStream does not answer (a leader
// election, a reconnect) until ctx ends.
func (s *Stream) publish(ctx context.Context, subject, id string, body []byte) (uint64, error) {
	msg := &nats.Msg{Subject: subject, Data: body}
	wait := 50 * time.Millisecond
	for {
		ack, err := s.b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(s.name))
		if err == nil {
			return ack.Sequence, nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			// The stream answered and refused: full, or misconfigured.
			return 0, fmt.Errorf("jetstream refused the records: %w (%w)", err, record.ErrBackpressure)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("jetstream did not acknowledge within %s: %w (%w)", s.b.opts.PublishTimeout, err, record.ErrBackpressure)
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// checkpointKey names a destination's checkpoint of a shard.
func (s *Stream) checkpointKey(destination string, shard record.ShardID) string {
	return token(s.opts.Name) + "." + token(destination) + "." + string(shard)
}

// Checkpoint is the next sequence number destination should deliver from
// shard (0 = from the first retained record).
func (s *Stream) Checkpoint(ctx context.Context, destination string, shard record.ShardID) (uint64, error) {
	next, _, err := s.checkpoint(ctx, destination, shard)
	return next, err
}

func (s *Stream) checkpoint(ctx context.Context, destination string, shard record.ShardID) (next, rev uint64, err error) {
	e, err := s.b.cps.Get(ctx, s.checkpointKey(destination, shard))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream: read checkpoint: %w", err)
	}
	next, err = strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream: checkpoint %s: %w", e.Key(), err)
	}
	return next, e.Revision(), nil
}

// Commit records that destination resolved every record of shard below
// next. Compare-and-set on the key's revision keeps it from moving
// backwards when an old lease holder commits late.
func (s *Stream) Commit(ctx context.Context, destination string, shard record.ShardID, next uint64) error {
	key := s.checkpointKey(destination, shard)
	for {
		cur, rev, err := s.checkpoint(ctx, destination, shard)
		if err != nil {
			return err
		}
		if cur >= next {
			return nil
		}
		val := []byte(strconv.FormatUint(next, 10))
		if rev == 0 {
			_, err = s.b.cps.Create(ctx, key, val)
		} else {
			_, err = s.b.cps.Update(ctx, key, val, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("jetstream: commit checkpoint %s: %w", key, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Someone else wrote it since we read it: read again.
	}
}

// trimLoop purges, every trimEvery, the messages every destination has
// delivered, so the stream holds only the backlog (and MaxBytes bounds
// that). Every node runs it; purging is idempotent.
func (s *Stream) trimLoop(ctx context.Context) {
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Trim(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("trim stream", "err", err)
		}
	}
}

// Trim purges each shard's messages below the lowest checkpoint of all
// destinations.
func (s *Stream) Trim(ctx context.Context) error {
	if len(s.opts.Consumers) == 0 {
		return nil
	}
	for _, sh := range s.shards {
		low := uint64(0)
		for i, c := range s.opts.Consumers {
			next, err := s.Checkpoint(ctx, c, sh.id)
			if err != nil {
				return err
			}
			if i == 0 || next < low {
				low = next
			}
		}
		msg, _ := splitSeq(low)
		if msg <= 1 {
			continue
		}
		if err := s.js.Purge(ctx, jetstream.WithPurgeSubject(sh.subject), jetstream.WithPurgeSequence(msg)); err != nil {
			return fmt.Errorf("purge %s below %d: %w", sh.subject, msg, err)
		}
	}
	return nil
}

// Stats are a stream's counters on this node and its size on the cluster.
type Stats struct {
	// Appends, AppendedRecords and AppendedBytes count this node's appends.
	Appends, AppendedRecords, AppendedBytes uint64
	// Bytes and Messages are held by the JetStream stream (all nodes').
	Bytes, Messages uint64
}

// Stats returns the counters; the cluster's figures are as of the last
// call that could reach it within a second.
func (s *Stream) Stats(ctx context.Context) Stats {
	st := Stats{Appends: s.appends.Load(), AppendedRecords: s.appendedRecords.Load(), AppendedBytes: s.appendedBytes.Load()}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if info, err := s.js.Info(ctx); err == nil {
		st.Bytes, st.Messages = info.State.Bytes, info.State.Msgs
	} else if ci := s.js.CachedInfo(); ci != nil {
		st.Bytes, st.Messages = ci.State.Bytes, ci.State.Msgs
	}
	return st
}
