package streams

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrant-io/hydrant/streams/checkpoint"
	"github.com/hydrant-io/hydrant/streams/internal/atomicfile"
	"github.com/hydrant-io/hydrant/streams/internal/fsutil"
	"github.com/hydrant-io/hydrant/streams/internal/hashkey"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/streams/wal"
)

// Defaults for Options.
const (
	DefaultRetention    = 24 * time.Hour
	DefaultSegmentBytes = 64 << 20
	// trimInterval is how often the stream trims on its own, besides after
	// every Commit; it bounds how late retention is enforced.
	trimInterval = 30 * time.Second
)

// Options configure a Stream. Zero values mean the documented defaults.
type Options struct {
	// Dir is the pipeline's own directory, e.g. <data_dir>/<pipeline>.
	Dir string
	// Name is the pipeline name; with the creation time it seeds record ids.
	Name string
	// Shards is the initial shard count of a NEW stream; the shard map on
	// disk wins for an existing one. Default 1.
	Shards int
	// Retention is how long a segment is kept after its newest record even
	// if a consumer has not read it. Default DefaultRetention (24h, as Firehose).
	Retention time.Duration
	// SegmentBytes is the WAL segment size. Default DefaultSegmentBytes.
	SegmentBytes int64
	// Consumers are the destinations that read the stream, each with its own
	// checkpoints. Segments are trimmed once all of them are past.
	Consumers []string
	// Budget is the disk budget shared across the server's streams; nil is
	// unlimited.
	Budget *Budget
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NoSync skips fsync. Tests only: it voids durability.
	NoSync bool
	// FS is the WAL file system seam, for fault injection in tests.
	// Default wal.OSFS.
	FS wal.FS
}

// ShardInfo describes one shard, in Kinesis' vocabulary.
//
// Its JSON (snake_case) is part of the status API, docs/status-api.md.
type ShardInfo struct {
	ID    record.ShardID `json:"id"`
	Index uint32         `json:"index"`
	// StartingHashKey and EndingHashKey are the inclusive range, in decimal.
	StartingHashKey string `json:"starting_hash_key"`
	EndingHashKey   string `json:"ending_hash_key"`
	// ParentShardID is empty for an initial shard; AdjacentParentShardID
	// is set only on the child of a merge.
	ParentShardID         record.ShardID `json:"parent_shard_id"`
	AdjacentParentShardID record.ShardID `json:"adjacent_parent_shard_id"`
	// Closed shards take no new records; they are read until drained.
	Closed bool `json:"closed"`
	// Drained: closed, fully consumed (or expired) and removed from disk.
	Drained bool `json:"drained"`
	// FirstSeq and NextSeq bound the retained, durable records [FirstSeq, NextSeq).
	FirstSeq uint64 `json:"first_seq"`
	NextSeq  uint64 `json:"next_seq"`
	// Bytes held on disk.
	Bytes int64 `json:"bytes"`
}

// shard is the live state of one shard. def, log and the ended channel are
// guarded by Stream.mu.
type shard struct {
	def              shardDef // guarded by Stream.mu (reshard replaces it)
	id               record.ShardID
	index            uint32 // immutable copy of def.index, read without the lock
	startStr, endStr string
	log              *wal.Log // nil once drained
	ended            chan struct{}

	acctMu    sync.Mutex
	accounted int64 // bytes added to the budget for this shard
}

// routeTable maps hash keys to open shards: starts[i] is the first hash key
// of open[i], ordered, with starts[0] == 0.
type routeTable struct {
	open   []*shard
	starts []hashkey.Key
}

func (t *routeTable) route(key string) int { return hashkey.Route(t.starts, key) }

// Stream is the durable, sharded stream of one pipeline. It is safe for
// concurrent use.
//
// Locking: mu guards the shard map and the routing table. Append holds it
// for reading until its records are durable, so Split and Merge (writers)
// see every shard's final sequence number when they close it.
type Stream struct {
	opts     Options
	lock     *os.File // flock on <Dir>/LOCK: one process per stream directory
	log      *slog.Logger
	now      func() time.Time
	streamID uint64
	cp       *checkpoint.Store

	mu      sync.RWMutex
	smap    *shardMap
	shards  []*shard // in index order
	byID    map[record.ShardID]*shard
	routes  *routeTable
	changed chan struct{}
	closed  bool

	// drainedDamage keeps what the logs of drained shards counted, so that
	// the stream's damage counters never go down. Guarded by mu.
	drainedDamage LogDamage

	trimMu    sync.Mutex
	droppedMu sync.Mutex
	dropped   map[string]uint64 // records dropped by retention, per consumer

	appends, appendedRecords, appendedBytes atomic.Uint64
	droppedRecords, trimmedBytes            atomic.Uint64

	pool sync.Pool // *encodeBuf

	kick chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

// Open opens the stream in opts.Dir, creating it with opts.Shards shards if
// it has no shard map yet, and starts its trimming goroutine.
func Open(ctx context.Context, opts Options) (*Stream, error) {
	if opts.Dir == "" || opts.Name == "" {
		return nil, errors.New("open stream: Dir and Name are required")
	}
	if opts.Shards <= 0 {
		opts.Shards = 1
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Consumers = slices.Clone(opts.Consumers)
	for i, c := range opts.Consumers {
		if err := checkpoint.ValidConsumer(c); err != nil {
			return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
		}
		if slices.Contains(opts.Consumers[:i], c) {
			return nil, fmt.Errorf("open stream %s: duplicate consumer %q", opts.Name, c)
		}
	}
	// Durable from the start: a power loss must not drop the data_dir,
	// pipeline or shards directory under files already synced in them.
	if err := fsutil.MkdirAllSync(filepath.Join(opts.Dir, "shards"), 0o755); err != nil {
		return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
	}
	s, err := open(ctx, opts)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// open is Open once the directory exists and is locked.
func open(ctx context.Context, opts Options) (*Stream, error) {
	// Leftovers of a save interrupted by a crash; the map itself is intact.
	if tmps, _ := filepath.Glob(filepath.Join(opts.Dir, shardMapFile+atomicfile.TempMarker+"*")); len(tmps) > 0 {
		for _, p := range tmps {
			_ = os.Remove(p)
		}
	}
	m, ok, err := loadShardMap(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
	}
	if !ok {
		m = newShardMap(opts.Name, opts.Shards, opts.Now().UTC())
		if err := saveShardMap(opts.Dir, m); err != nil {
			return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
		}
	}
	cp, err := checkpoint.Open(filepath.Join(opts.Dir, "checkpoints"))
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
	}
	s := &Stream{
		opts:     opts,
		log:      opts.Logger.With("pipeline", opts.Name),
		now:      opts.Now,
		streamID: streamID(m.name, m.created),
		cp:       cp,
		smap:     m,
		byID:     map[record.ShardID]*shard{},
		changed:  make(chan struct{}),
		dropped:  map[string]uint64{},
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	for _, d := range m.shards {
		if err := ctx.Err(); err != nil {
			s.closeLogs()
			return nil, err
		}
		sh, err := s.openShard(d)
		if err != nil {
			s.closeLogs()
			return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
		}
		if d.closed && sh.log != nil && sh.log.NextSeq() != d.endSeq {
			s.log.Warn("closed shard log does not end at its recorded end",
				"shard", sh.id, "next_seq", sh.log.NextSeq(), "ending_seq", d.endSeq)
		}
		if err := s.rewindPastEnd(ctx, sh); err != nil {
			s.closeLogs()
			return nil, fmt.Errorf("open stream %s: %w", opts.Name, err)
		}
		s.addShardLocked(sh)
	}
	s.rebuildRoutesLocked()
	s.wg.Add(1)
	go s.trimLoop()
	return s, nil
}

// rewindPastEnd handles a log that reopened shorter than a consumer's
// checkpoint (a damaged segment cut at open, or a removed shard
// directory). New records would reuse the sequence numbers the checkpoint
// already passed and never be delivered; rewinding the checkpoint to the
// log's end delivers them. What the log lost is gone either way, and is
// reported loudly.
func (s *Stream) rewindPastEnd(ctx context.Context, sh *shard) error {
	if sh.log == nil {
		return nil
	}
	end := sh.log.NextSeq()
	for _, c := range s.opts.Consumers {
		if next, ok := s.cp.Get(c, sh.id); ok && next > end {
			s.log.Error("shard log ends before a checkpoint: records were lost from disk; rewinding the checkpoint so new records are delivered",
				"shard", sh.id, "consumer", c, "checkpoint", next, "log_end", end)
			if err := s.cp.Rewind(ctx, c, sh.id, end); err != nil {
				return err
			}
		}
	}
	return nil
}

// streamID mixes the name hash with the creation time so that ids never
// repeat, even when a data directory is recreated under the same name.
func streamID(name string, created time.Time) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	x := uint64(created.UnixNano()) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return h.Sum64() ^ x ^ (x >> 31)
}

func (s *Stream) shardDir(id record.ShardID) string {
	return filepath.Join(s.opts.Dir, "shards", string(id))
}

// openShard opens the log of d (none for a drained shard, whose leftover
// directory from an interrupted drain is removed).
func (s *Stream) openShard(d shardDef) (*shard, error) {
	sh := &shard{def: d, id: d.id(), index: d.index, startStr: d.start.String(), endStr: d.end.String(), ended: make(chan struct{})}
	if d.closed {
		close(sh.ended)
	}
	if d.drained {
		if err := os.RemoveAll(s.shardDir(sh.id)); err != nil {
			return nil, fmt.Errorf("remove drained shard %s: %w", sh.id, err)
		}
		return sh, nil
	}
	l, err := wal.Open(s.shardDir(sh.id), wal.Options{
		SegmentBytes: s.opts.SegmentBytes,
		Logger:       s.log.With("shard", sh.id),
		NoSync:       s.opts.NoSync,
		FS:           s.opts.FS,
	})
	if err != nil {
		return nil, fmt.Errorf("open shard %s: %w", sh.id, err)
	}
	sh.log = l
	s.account(sh)
	return sh, nil
}

// account brings the budget in line with the shard's bytes on disk.
func (s *Stream) account(sh *shard) {
	var n int64
	if sh.log != nil {
		n = sh.log.Stats().Bytes
	}
	sh.acctMu.Lock()
	s.opts.Budget.Add(n - sh.accounted)
	sh.accounted = n
	sh.acctMu.Unlock()
}

func (s *Stream) addShardLocked(sh *shard) {
	s.shards = append(s.shards, sh)
	s.byID[sh.id] = sh
}

func (s *Stream) rebuildRoutesLocked() {
	t := &routeTable{}
	for _, sh := range s.shards {
		if !sh.def.closed {
			t.open = append(t.open, sh)
		}
	}
	slices.SortFunc(t.open, func(a, b *shard) int { return a.def.start.Cmp(b.def.start) })
	for _, sh := range t.open {
		t.starts = append(t.starts, sh.def.start)
	}
	s.routes = t
}

// Fault returns why a shard's log cannot take appends now (see
// wal.Log.Fault): a full disk or quota until space is back, or a sticky
// write error until restart. Nil when every shard is healthy.
func (s *Stream) Fault() error {
	for _, sh := range s.snapshot() {
		if sh.log == nil {
			continue
		}
		if err := sh.log.Fault(); err != nil {
			return fmt.Errorf("shard %s: %w", sh.id, err)
		}
	}
	return nil
}

// ID returns the stream identity mixed into record ids.
func (s *Stream) ID() uint64 { return s.streamID }

// Shards lists every shard, closed ones included, ordered by index.
func (s *Stream) Shards() []ShardInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]ShardInfo, 0, len(s.shards))
	for _, sh := range s.shards {
		in := ShardInfo{
			ID: sh.id, Index: sh.def.index, StartingHashKey: sh.startStr, EndingHashKey: sh.endStr,
			ParentShardID: sh.def.parent, AdjacentParentShardID: sh.def.adjacentParent,
			Closed: sh.def.closed, Drained: sh.def.drained,
			FirstSeq: sh.def.endSeq, NextSeq: sh.def.endSeq,
		}
		if sh.log != nil {
			st := sh.log.Stats()
			in.FirstSeq, in.NextSeq, in.Bytes = st.FirstSeq, st.NextSeq, st.Bytes
		}
		out = append(out, in)
	}
	return out
}

// ShardsChanged returns a channel that is closed (and replaced) when the
// shard map changes: a split, a merge, or a closed shard drained.
func (s *Stream) ShardsChanged() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

func (s *Stream) notifyChangedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Split closes shard and creates two children covering
// [start, newStartingHashKey−1] and [newStartingHashKey, end], like Kinesis
// SplitShard. The new shard map is durable before any record is routed to
// the children.
func (s *Stream) Split(ctx context.Context, shard record.ShardID, newStartingHashKey *big.Int) error {
	hk, err := hashkey.FromBig(newStartingHashKey)
	if err != nil {
		return fmt.Errorf("split %s: %w: %w", shard, ErrInvalidArgument, err)
	}
	return s.reshard(ctx, func(m *shardMap) (*shardMap, error) {
		p := s.byID[shard]
		if p == nil || p.log == nil {
			return nil, fmt.Errorf("split %s: %w", shard, ErrShardNotFound)
		}
		return m.split(shard, hk, p.log.SyncedSeq())
	})
}

// Merge closes two open shards with adjacent hash ranges and creates their
// union as a child (ParentShardID shard, AdjacentParentShardID adjacent),
// like Kinesis MergeShards.
func (s *Stream) Merge(ctx context.Context, shard, adjacent record.ShardID) error {
	return s.reshard(ctx, func(m *shardMap) (*shardMap, error) {
		a, b := s.byID[shard], s.byID[adjacent]
		if a == nil || b == nil || a.log == nil || b.log == nil {
			return nil, fmt.Errorf("merge %s and %s: %w", shard, adjacent, ErrShardNotFound)
		}
		return m.merge(shard, adjacent, a.log.SyncedSeq(), b.log.SyncedSeq())
	})
}

// reshard applies a split or merge. Under the write lock no Append is in
// flight, so the parents' SyncedSeq are final (not NextSeq: after a sticky
// write error, seqs past SyncedSeq were never written). Order matters for
// crash safety: children logs are created first (an orphan empty directory
// is harmless and reused), then the map is saved atomically, then routing
// switches.
func (s *Stream) reshard(ctx context.Context, next func(*shardMap) (*shardMap, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return record.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	nm, err := next(s.smap)
	if err != nil {
		return err
	}
	var children []*shard
	for _, d := range nm.shards[len(s.smap.shards):] {
		sh, err := s.openShard(d)
		if err != nil {
			for _, c := range children {
				_ = c.log.Close()
			}
			return err
		}
		children = append(children, sh)
	}
	if err := saveShardMap(s.opts.Dir, nm); err != nil {
		for _, c := range children {
			_ = c.log.Close()
		}
		return err
	}
	s.smap = nm
	for _, sh := range s.shards {
		d := nm.shards[nm.find(sh.id)]
		if d.closed && !sh.def.closed {
			close(sh.ended)
		}
		sh.def = d
	}
	for _, c := range children {
		s.addShardLocked(c)
	}
	s.rebuildRoutesLocked()
	s.notifyChangedLocked()
	s.log.Info("shard map changed", "shards", len(nm.shards), "open", len(s.routes.open))
	return nil
}

// Close stops trimming and closes every shard log. Blocked readers return
// record.ErrClosed. Appends in flight finish first.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeLogs()
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
	}
	return err
}

func (s *Stream) closeLogs() error {
	var errs []error
	for _, sh := range s.shards {
		if sh.log != nil {
			errs = append(errs, sh.log.Close())
		}
		// Release the shard's share of the server-wide budget; a reopen
		// accounts it again.
		sh.acctMu.Lock()
		s.opts.Budget.Add(-sh.accounted)
		sh.accounted = 0
		sh.acctMu.Unlock()
	}
	return errors.Join(errs...)
}
