package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hydrant-io/hydrant/streams/internal/atomicfile"
	"github.com/hydrant-io/hydrant/streams/internal/fsutil"
	"github.com/hydrant-io/hydrant/streams/record"
)

const (
	fileVersion = 1
	fileExt     = ".json"
	maxNameLen  = 128
)

// ErrBackwards is returned by Commit when the new checkpoint is below the
// last committed one.
var ErrBackwards = errors.New("checkpoint moves backwards")

// ErrInvalidConsumer is returned for a consumer name that is not a safe
// file name (see the package doc).
var ErrInvalidConsumer = errors.New("invalid consumer name")

// Store holds the checkpoints of every consumer of one stream. It is safe for
// concurrent use.
type Store struct {
	dir string

	mu        sync.Mutex // guards consumers (the map, not the entries)
	consumers map[string]*consumer
}

// consumer is the state of one consumer file. Lock order: writeMu before mu.
type consumer struct {
	writeMu   sync.Mutex // serialises file writes
	persisted uint64     // version last written; guarded by writeMu

	mu      sync.Mutex
	version uint64 // bumped by each accepted Commit
	pending map[record.ShardID]uint64
	durable map[record.ShardID]uint64
}

type fileJSON struct {
	Version  int                       `json:"version"`
	Consumer string                    `json:"consumer"`
	Shards   map[record.ShardID]uint64 `json:"shards"`
}

// Open loads every consumer file in dir, creating dir if needed (durably:
// checkpoint files written into it must not vanish with their directory).
func Open(dir string) (*Store, error) {
	if err := fsutil.MkdirAllSync(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create checkpoint dir: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list checkpoint dir: %w", err)
	}
	s := &Store{dir: dir, consumers: map[string]*consumer{}}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, fileExt) && !e.IsDir():
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("read checkpoint: %w", err)
			}
			f, err := decodeFile(name, b)
			if err != nil {
				return nil, err
			}
			s.consumers[f.Consumer] = &consumer{pending: f.Shards, durable: maps.Clone(f.Shards)}
		case strings.Contains(name, atomicfile.TempMarker):
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("remove stale checkpoint temp file: %w", err)
			}
		}
	}
	return s, nil
}

// decodeFile parses the consumer file called name.
func decodeFile(name string, b []byte) (fileJSON, error) {
	var f fileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("decode checkpoint %s: %w", name, err)
	}
	if f.Version != fileVersion || f.Consumer+fileExt != name || ValidConsumer(f.Consumer) != nil {
		return f, fmt.Errorf("checkpoint %s: unsupported version %d or consumer %q", name, f.Version, f.Consumer)
	}
	if f.Shards == nil {
		f.Shards = map[record.ShardID]uint64{}
	}
	return f, nil
}

// ValidConsumer reports whether name can be used as a consumer name.
func ValidConsumer(name string) error {
	if name == "" || len(name) > maxNameLen || name[0] == '.' {
		return fmt.Errorf("%w: %q", ErrInvalidConsumer, name)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("%w: %q", ErrInvalidConsumer, name)
		}
	}
	return nil
}

func (s *Store) get(name string, create bool) *consumer {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.consumers[name]
	if c == nil && create {
		c = &consumer{pending: map[record.ShardID]uint64{}, durable: map[record.ShardID]uint64{}}
		s.consumers[name] = c
	}
	return c
}

// Get returns the durable checkpoint of (consumer, shard); ok is false if
// none was ever committed.
func (s *Store) Get(consumer string, shard record.ShardID) (next uint64, ok bool) {
	c := s.get(consumer, false)
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next, ok = c.durable[shard]
	return next, ok
}

// Load is Get shaped like the checkpoint seam other stream implementations
// provide: a shard without a checkpoint yields 0.
func (s *Store) Load(ctx context.Context, consumer string, shard record.ShardID) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	next, _ := s.Get(consumer, shard)
	return next, nil
}

// Shards returns a copy of the durable checkpoints of consumer.
func (s *Store) Shards(consumer string) map[record.ShardID]uint64 {
	c := s.get(consumer, false)
	if c == nil {
		return map[record.ShardID]uint64{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.durable)
}

// Commit durably records next as the checkpoint of (consumer, shard). It
// returns ErrBackwards if next is below the last committed value; committing
// the same value again is a cheap no-op.
func (s *Store) Commit(ctx context.Context, consumer string, shard record.ShardID, next uint64) error {
	if err := ValidConsumer(consumer); err != nil {
		return err
	}
	c := s.get(consumer, true)
	c.mu.Lock()
	cur, ok := c.pending[shard]
	if ok && next < cur {
		c.mu.Unlock()
		return fmt.Errorf("commit %s/%s at %d, already at %d: %w", consumer, shard, next, cur, ErrBackwards)
	}
	if ok && next == cur && c.durable[shard] == next {
		c.mu.Unlock()
		return nil
	}
	c.pending[shard] = next
	c.version++
	want := c.version
	c.mu.Unlock()
	return s.persist(ctx, consumer, c, want)
}

// Rewind durably sets (consumer, shard) back to next. It exists for one
// recovery case only: a shard's log reopened shorter than a checkpoint had
// already passed (a damaged or removed log), where new records would
// otherwise reuse sequence numbers the checkpoint skips. Not for concurrent
// use with Commit on the same shard.
func (s *Store) Rewind(ctx context.Context, consumer string, shard record.ShardID, next uint64) error {
	if err := ValidConsumer(consumer); err != nil {
		return err
	}
	c := s.get(consumer, true)
	c.mu.Lock()
	c.pending[shard] = next
	c.durable[shard] = next
	c.version++
	want := c.version
	c.mu.Unlock()
	return s.persist(ctx, consumer, c, want)
}

// persist writes c's pending checkpoints unless a concurrent writer already
// wrote version want or later.
func (s *Store) persist(ctx context.Context, consumer string, c *consumer, want uint64) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.persisted >= want {
		return nil // a concurrent writer already made our value durable
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	snap := maps.Clone(c.pending)
	ver := c.version
	c.mu.Unlock()

	b, err := json.Marshal(fileJSON{Version: fileVersion, Consumer: consumer, Shards: snap})
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := atomicfile.Write(s.dir, consumer+fileExt, b); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", consumer, err)
	}
	c.persisted = ver
	c.mu.Lock()
	for k, v := range snap {
		c.durable[k] = max(v, c.durable[k])
	}
	c.mu.Unlock()
	return nil
}
