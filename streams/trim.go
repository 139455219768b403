package streams

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/hydrant-io/hydrant/streams/internal/codec"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/streams/wal"
)

// ShardBacklog is what one consumer still has to read from one shard. Its
// JSON (snake_case) is part of the status API, docs/status-api.md.
type ShardBacklog struct {
	Shard record.ShardID `json:"shard"`
	// Records durable but not yet committed by the consumer.
	Records uint64 `json:"records"`
	// Bytes on disk those records take, approximated per segment.
	Bytes int64 `json:"bytes"`
	// Oldest is the arrival time of the first uncommitted record (zero if none).
	Oldest time.Time `json:"oldest"`
}

// StreamStats are counters and sizes of a stream, for metrics.
type StreamStats struct {
	Shards, OpenShards int
	// Bytes and Segments held on disk by all shard logs.
	Bytes    int64
	Segments int
	// Appends counts successful Append calls; AppendedRecords and
	// AppendedBytes (of Data) their records.
	Appends, AppendedRecords, AppendedBytes uint64
	// Syncs and SyncedBytes sum the WAL group commits of the open logs.
	Syncs, SyncedBytes uint64
	// TrimmedBytes were freed by trimming and retention.
	TrimmedBytes uint64
	// DroppedRecords were deleted by retention before every consumer read
	// them (counted once per record); DroppedByConsumer splits them by the
	// consumer that missed them.
	DroppedRecords    uint64
	DroppedByConsumer map[string]uint64
	// Damage is what the shard logs found damaged and skipped.
	Damage LogDamage
}

// snapshot returns the shards and their state under the read lock.
func (s *Stream) snapshot() []*shard {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.shards)
}

func (s *Stream) lookup(id record.ShardID) (sh *shard, def shardDef, l *wal.Log, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sh = s.byID[id]
	if sh == nil {
		return nil, def, nil, fmt.Errorf("shard %s: %w", id, ErrShardNotFound)
	}
	return sh, sh.def, sh.log, nil
}

// Checkpoint returns the next sequence number consumer should deliver from
// shard: its committed checkpoint, or the shard's first retained record if
// that is later (nothing committed yet, or records dropped by retention).
func (s *Stream) Checkpoint(consumer string, shard record.ShardID) uint64 {
	_, def, l, err := s.lookup(shard)
	if err != nil {
		return 0
	}
	next, _ := s.cp.Get(consumer, shard)
	first := def.endSeq
	if l != nil {
		first = l.Stats().FirstSeq
	}
	return max(next, first)
}

// Commit durably records that consumer has resolved every record of shard
// below next. It never moves backwards nor past the shard's durable end,
// and wakes the trimmer.
func (s *Stream) Commit(ctx context.Context, consumer string, shard record.ShardID, next uint64) error {
	if !slices.Contains(s.opts.Consumers, consumer) {
		return fmt.Errorf("commit %s/%s: %w: %q", s.opts.Name, shard, ErrUnknownConsumer, consumer)
	}
	_, def, l, err := s.lookup(shard)
	if err != nil {
		return fmt.Errorf("commit %s: %w", s.opts.Name, err)
	}
	end := def.endSeq
	if l != nil {
		end = l.SyncedSeq()
	}
	if next > end {
		return fmt.Errorf("commit %s/%s at %d, durable end %d: %w", consumer, shard, next, end, ErrBadCheckpoint)
	}
	if err := s.cp.Commit(ctx, consumer, shard, next); err != nil {
		return fmt.Errorf("commit %s: %w", s.opts.Name, err)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

// trimLoop trims after commits and on a ticker until Close.
func (s *Stream) trimLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.Trim(ctx); err != nil {
			s.log.Warn("trim stream", "err", err)
		}
	}
}

// Trim deletes whole WAL segments that every consumer has committed past,
// and enforces retention: a sealed segment whose newest record is older
// than Retention is deleted even if a consumer has not read it (a warning
// names the consumer and shard, and the records are counted as dropped),
// mirroring Firehose's 24 h limit. A closed shard that every consumer has
// finished, or whose last records expired, is drained: its log is removed
// and the shard map marks it so. The active segment of an open shard is
// never deleted. The stream calls Trim after every Commit and periodically;
// it is exported for tests and for callers that want it now.
func (s *Stream) Trim(ctx context.Context) error {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return record.ErrClosed
	}
	cutoff := s.now().Add(-s.opts.Retention)
	for _, sh := range s.snapshot() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.trimShard(sh, cutoff); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stream) trimShard(sh *shard, cutoff time.Time) error {
	_, def, l, _ := s.lookup(sh.id)
	if l == nil {
		return nil
	}
	defer s.account(sh)
	// cps are the consumers' checkpoints; minCP is how far all have read.
	first := l.Stats().FirstSeq
	cps := make(map[string]uint64, len(s.opts.Consumers))
	minCP := first
	for i, c := range s.opts.Consumers {
		cp := s.Checkpoint(c, sh.id)
		cps[c] = cp
		if i == 0 || cp < minCP {
			minCP = cp
		}
	}
	if len(s.opts.Consumers) > 0 {
		n, err := l.TruncateBefore(minCP)
		s.trimmedBytes.Add(uint64(n))
		if err != nil {
			return fmt.Errorf("trim shard %s: %w", sh.id, err)
		}
	}
	segs := l.Segments()
	for i, seg := range segs {
		if !seg.ModTime.Before(cutoff) {
			break
		}
		last := i == len(segs)-1
		if last && !def.closed {
			break // the active segment of an open shard is still written
		}
		s.countDropped(sh.id, seg, cps)
		if last {
			return s.drain(sh, "retention")
		}
		if err := l.DeleteSegment(seg.FirstSeq); err != nil {
			return fmt.Errorf("expire segment %d of shard %s: %w", seg.FirstSeq, sh.id, err)
		}
		s.trimmedBytes.Add(uint64(seg.Bytes))
	}
	if def.closed && minCP >= def.endSeq {
		return s.drain(sh, "consumed")
	}
	return nil
}

// countDropped counts and reports the records of seg that consumers lose.
func (s *Stream) countDropped(id record.ShardID, seg wal.SegmentInfo, cps map[string]uint64) {
	var lost uint64
	s.droppedMu.Lock()
	defer s.droppedMu.Unlock()
	for c, cp := range cps {
		if cp >= seg.NextSeq {
			continue
		}
		n := seg.NextSeq - max(cp, seg.FirstSeq)
		lost = max(lost, n)
		s.dropped[c] += n
		s.log.Warn("retention expired records a consumer has not delivered",
			"consumer", c, "shard", id, "records", n, "first_seq", max(cp, seg.FirstSeq),
			"next_seq", seg.NextSeq, "retention", s.opts.Retention)
	}
	s.droppedRecords.Add(lost)
}

// drain removes the log of a closed shard and marks it drained in the shard
// map. The map is saved first: a crash before the removal leaves a
// directory that Open deletes.
func (s *Stream) drain(sh *shard, why string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || sh.log == nil {
		return nil
	}
	nm := s.smap.clone()
	i := nm.find(sh.id)
	nm.shards[i].drained = true
	if err := saveShardMap(s.opts.Dir, nm); err != nil {
		return fmt.Errorf("drain shard %s: %w", sh.id, err)
	}
	s.smap = nm
	sh.def = nm.shards[i]
	ls := sh.log.Stats()
	bytes := ls.Bytes
	s.drainedDamage.add(sh.id, s.shardDir(sh.id), ls)
	err := sh.log.Close()
	sh.log = nil
	if rerr := os.RemoveAll(s.shardDir(sh.id)); err == nil {
		err = rerr
	}
	s.trimmedBytes.Add(uint64(bytes))
	s.notifyChangedLocked()
	s.log.Info("closed shard drained", "shard", sh.id, "reason", why)
	if err != nil {
		return fmt.Errorf("drain shard %s: %w", sh.id, err)
	}
	return nil
}

// Backlog reports, per shard that is not drained, what consumer has still
// to deliver. It reads one record per non-empty shard for Oldest.
func (s *Stream) Backlog(consumer string) []ShardBacklog {
	var out []ShardBacklog
	for _, sh := range s.snapshot() {
		_, _, l, _ := s.lookup(sh.id)
		if l == nil {
			continue
		}
		cp := s.Checkpoint(consumer, sh.id)
		b := ShardBacklog{Shard: sh.id}
		if end := l.SyncedSeq(); end > cp {
			b.Records = end - cp
			for _, seg := range l.Segments() {
				if seg.NextSeq <= cp || seg.NextSeq == seg.FirstSeq {
					continue
				}
				from := max(cp, seg.FirstSeq)
				b.Bytes += seg.Bytes * int64(seg.NextSeq-from) / int64(seg.NextSeq-seg.FirstSeq)
			}
			b.Oldest = s.arrivalAt(l, cp)
		}
		out = append(out, b)
	}
	return out
}

// arrivalAt reads the arrival time of the record at seq, which is durable.
func (s *Stream) arrivalAt(l *wal.Log, seq uint64) time.Time {
	// The record is synced, so Next returns at once; the timeout only guards
	// against a concurrent drain.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := l.NewReader(seq)
	defer func() { _ = r.Close() }()
	ents, err := r.Next(ctx, 1)
	if err != nil || len(ents) == 0 {
		return time.Time{}
	}
	d, err := codec.Decode(ents[0].Data)
	if err != nil {
		return time.Time{}
	}
	return codec.ArrivedTime(d.ArrivedMs)
}

// Stats returns counters and sizes of the stream.
func (s *Stream) Stats() StreamStats {
	st := StreamStats{
		Appends:         s.appends.Load(),
		AppendedRecords: s.appendedRecords.Load(),
		AppendedBytes:   s.appendedBytes.Load(),
		TrimmedBytes:    s.trimmedBytes.Load(),
		DroppedRecords:  s.droppedRecords.Load(),
	}
	s.droppedMu.Lock()
	st.DroppedByConsumer = maps.Clone(s.dropped)
	s.droppedMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	st.Shards = len(s.shards)
	st.Damage.merge(s.drainedDamage)
	for _, sh := range s.shards {
		if !sh.def.closed {
			st.OpenShards++
		}
		if sh.log == nil {
			continue
		}
		ls := sh.log.Stats()
		st.Bytes += ls.Bytes
		st.Segments += ls.Segments
		st.Syncs += ls.Syncs
		st.SyncedBytes += ls.SyncedBytes
		st.Damage.add(sh.id, s.shardDir(sh.id), ls)
	}
	return st
}
