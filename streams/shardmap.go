package streams

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hydrant-io/hydrant/streams/internal/atomicfile"
	"github.com/hydrant-io/hydrant/streams/internal/hashkey"
	"github.com/hydrant-io/hydrant/streams/record"
)

// shardMapFile is the name of the shard map inside the stream directory.
const shardMapFile = "shards.json"

// shardMapVersion is bumped on incompatible changes to the shard map format.
const shardMapVersion = 1

// shardDef is one shard of the shard map. Closed shards keep their entry
// forever so that ids, parents and ending sequence numbers stay known.
type shardDef struct {
	index          uint32
	start, end     hashkey.Key
	parent         record.ShardID
	adjacentParent record.ShardID
	closed         bool
	// endSeq is the shard's next sequence number when it was closed; no
	// record is ever appended at or above it.
	endSeq uint64
	// drained marks a closed shard whose log was fully consumed (or expired)
	// and removed from disk.
	drained bool
}

func (d *shardDef) id() record.ShardID { return shardID(d.index) }

// shardID formats a Kinesis shard id.
func shardID(index uint32) record.ShardID {
	return record.ShardID(fmt.Sprintf("shardId-%012d", index))
}

// shardMap is the whole stream layout. Values are treated as immutable:
// split and merge return a modified copy, which is persisted before it
// replaces the live one.
type shardMap struct {
	name      string
	created   time.Time
	nextIndex uint32
	shards    []shardDef // ordered by index
}

// newShardMap lays out n shards with Kinesis' initial ranges.
func newShardMap(name string, n int, created time.Time) *shardMap {
	m := &shardMap{name: name, created: created, nextIndex: uint32(n)}
	for i, r := range hashkey.InitialRanges(n) {
		m.shards = append(m.shards, shardDef{index: uint32(i), start: r[0], end: r[1]})
	}
	return m
}

func (m *shardMap) clone() *shardMap {
	c := *m
	c.shards = slices.Clone(m.shards)
	return &c
}

func (m *shardMap) find(id record.ShardID) int {
	for i := range m.shards {
		if m.shards[i].id() == id {
			return i
		}
	}
	return -1
}

// split closes shard id at endSeq and returns the map with its two children
// [start, newStart−1] and [newStart, end]. As in Kinesis, newStart must be
// greater than start+1 and less than end.
func (m *shardMap) split(id record.ShardID, newStart hashkey.Key, endSeq uint64) (*shardMap, error) {
	i := m.find(id)
	if i < 0 {
		return nil, fmt.Errorf("split %s: %w", id, ErrShardNotFound)
	}
	p := m.shards[i]
	if p.closed {
		return nil, fmt.Errorf("split %s: shard is closed: %w", id, ErrInvalidArgument)
	}
	if newStart.Cmp(p.start.Add1()) <= 0 || newStart.Cmp(p.end) >= 0 {
		return nil, fmt.Errorf("split %s: new starting hash key %s must be in (%s+1, %s): %w",
			id, newStart, p.start, p.end, ErrInvalidArgument)
	}
	c := m.clone()
	c.shards[i].closed = true
	c.shards[i].endSeq = endSeq
	c.shards = append(c.shards,
		shardDef{index: c.nextIndex, start: p.start, end: newStart.Sub1(), parent: id},
		shardDef{index: c.nextIndex + 1, start: newStart, end: p.end, parent: id},
	)
	c.nextIndex += 2
	return c, nil
}

// merge closes two open shards with contiguous ranges (endSeqs give their
// next sequence numbers) and returns the map with their union as a child
// whose parent is id and adjacent parent is adj.
func (m *shardMap) merge(id, adj record.ShardID, endSeq, adjEndSeq uint64) (*shardMap, error) {
	i, j := m.find(id), m.find(adj)
	if i < 0 || j < 0 {
		return nil, fmt.Errorf("merge %s and %s: %w", id, adj, ErrShardNotFound)
	}
	a, b := m.shards[i], m.shards[j]
	if i == j || a.closed || b.closed {
		return nil, fmt.Errorf("merge %s and %s: both shards must be distinct and open: %w", id, adj, ErrInvalidArgument)
	}
	lo, hi := a, b
	if b.start.Cmp(a.start) < 0 {
		lo, hi = b, a
	}
	if lo.end.Add1() != hi.start {
		return nil, fmt.Errorf("merge %s and %s: hash ranges are not adjacent: %w", id, adj, ErrInvalidArgument)
	}
	c := m.clone()
	c.shards[i].closed, c.shards[i].endSeq = true, endSeq
	c.shards[j].closed, c.shards[j].endSeq = true, adjEndSeq
	c.shards = append(c.shards, shardDef{index: c.nextIndex, start: lo.start, end: hi.end, parent: id, adjacentParent: adj})
	c.nextIndex++
	return c, nil
}

// validate checks that the open shards tile [0, 2^128−1] exactly, which is
// what makes routing total and unambiguous.
func (m *shardMap) validate() error {
	var open []shardDef
	seen := map[uint32]bool{}
	for _, d := range m.shards {
		if seen[d.index] || d.index >= m.nextIndex {
			return fmt.Errorf("shard map: bad or duplicate index %d", d.index)
		}
		seen[d.index] = true
		if d.start.Cmp(d.end) > 0 {
			return fmt.Errorf("shard map: %s has an empty range", d.id())
		}
		if !d.closed {
			open = append(open, d)
		}
	}
	slices.SortFunc(open, func(a, b shardDef) int { return a.start.Cmp(b.start) })
	next := hashkey.Key{}
	for k, d := range open {
		if d.start != next {
			return fmt.Errorf("shard map: open shards leave a gap or overlap at %s", d.id())
		}
		if k == len(open)-1 {
			if d.end != hashkey.Max {
				return fmt.Errorf("shard map: open shards do not reach 2^128-1")
			}
		} else {
			next = d.end.Add1()
		}
	}
	if len(open) == 0 {
		return errors.New("shard map: no open shard")
	}
	return nil
}

type shardMapJSON struct {
	Version   int            `json:"version"`
	Name      string         `json:"name"`
	Created   time.Time      `json:"created"`
	NextIndex uint32         `json:"next_index"`
	Shards    []shardDefJSON `json:"shards"`
}

type shardDefJSON struct {
	ShardID        record.ShardID `json:"shard_id"`
	Index          uint32         `json:"index"`
	Start          string         `json:"starting_hash_key"`
	End            string         `json:"ending_hash_key"`
	Parent         record.ShardID `json:"parent_shard_id,omitempty"`
	AdjacentParent record.ShardID `json:"adjacent_parent_shard_id,omitempty"`
	Closed         bool           `json:"closed,omitempty"`
	EndSeq         uint64         `json:"ending_sequence_number,omitempty"`
	Drained        bool           `json:"drained,omitempty"`
}

func (m *shardMap) MarshalJSON() ([]byte, error) {
	j := shardMapJSON{Version: shardMapVersion, Name: m.name, Created: m.created, NextIndex: m.nextIndex}
	for _, d := range m.shards {
		j.Shards = append(j.Shards, shardDefJSON{
			ShardID: d.id(), Index: d.index, Start: d.start.String(), End: d.end.String(),
			Parent: d.parent, AdjacentParent: d.adjacentParent,
			Closed: d.closed, EndSeq: d.endSeq, Drained: d.drained,
		})
	}
	return json.MarshalIndent(j, "", "  ")
}

func (m *shardMap) UnmarshalJSON(b []byte) error {
	var j shardMapJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Version != shardMapVersion {
		return fmt.Errorf("shard map: unsupported version %d", j.Version)
	}
	*m = shardMap{name: j.Name, created: j.Created, nextIndex: j.NextIndex}
	for _, s := range j.Shards {
		start, err := hashkey.Parse(s.Start)
		if err != nil {
			return err
		}
		end, err := hashkey.Parse(s.End)
		if err != nil {
			return err
		}
		m.shards = append(m.shards, shardDef{
			index: s.Index, start: start, end: end, parent: s.Parent, adjacentParent: s.AdjacentParent,
			closed: s.Closed, endSeq: s.EndSeq, drained: s.Drained,
		})
	}
	slices.SortFunc(m.shards, func(a, b shardDef) int { return int(a.index) - int(b.index) })
	return m.validate()
}

// loadShardMap reads the shard map of dir; ok is false if there is none.
func loadShardMap(dir string) (m *shardMap, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, shardMapFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read shard map: %w", err)
	}
	m = new(shardMap)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, false, fmt.Errorf("decode shard map %s: %w", filepath.Join(dir, shardMapFile), err)
	}
	return m, true, nil
}

// saveShardMap replaces the shard map of dir atomically and durably.
func saveShardMap(dir string, m *shardMap) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode shard map: %w", err)
	}
	if err := atomicfile.Write(dir, shardMapFile, b); err != nil {
		return fmt.Errorf("save shard map: %w", err)
	}
	return nil
}
