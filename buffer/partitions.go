package buffer

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

// Defaults of Limits.
const (
	// DefaultMaxPartitions is Firehose's default active-partition limit.
	DefaultMaxPartitions = 500
	// DefaultMaxBytes caps what one Partitions holds.
	DefaultMaxBytes = 32 << 20
)

// lagCaps is how many byte caps of the log a partition may hold behind the
// commit point before it is due anyway (see TakeDue).
const lagCaps = 4

// maxSlab is the largest slab a partition allocates at once.
const maxSlab = 1 << 20

// ErrTooManyPartitions is returned by Add for a record that would open a
// partition past Limits.MaxPartitions (Firehose's
// active-partition-exceeded).
var ErrTooManyPartitions = errors.New("buffer: too many active partitions")

// Limits bound the memory of one Partitions. Zero fields take the defaults.
type Limits struct {
	// MaxPartitions caps the partitions holding records at once. Default
	// DefaultMaxPartitions.
	MaxPartitions int
	// MaxBytes caps the bytes held over all partitions; past it the
	// biggest partitions are taken out early (TakeOverCap). Default
	// DefaultMaxBytes, and never less than one full batch
	// (Policy.MaxBytes). A partition that holds records from more than
	// four caps of the log back is due as well.
	MaxBytes int64
}

func (l Limits) withDefaults(p Policy) Limits {
	if l.MaxPartitions <= 0 {
		l.MaxPartitions = DefaultMaxPartitions
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	l.MaxBytes = max(l.MaxBytes, p.MaxBytes)
	return l
}

// Partitions buffers the records one reader of one shard delivers to one
// destination: a Batcher per partition key (the evaluated prefix of a
// dynamically partitioned destination, or "" for a sink that does not
// partition). It decides what flushes and when; its owner writes the
// batches it takes out, and commits no further than CommitPoint.
//
// Like Batcher it is bookkeeping only (no goroutines, timers or I/O) and
// not safe for concurrent use. A partition exists only while it holds
// records.
type Partitions struct {
	policy Policy
	limits Limits
	clk    Clock
	parts  map[string]*partition
	// held is what all partitions are charged for against Limits.MaxBytes.
	held int64
	// read counts the bytes read from the log (Read); with partition.since
	// it measures how much of the log a partition holds behind the commit
	// point.
	read int64
}

// partition is one active partition's buffer and the identity of its
// batch.
type partition struct {
	key string
	b   Batcher
	// first and last are the positions of the batch's first and last
	// record: its range (record.Batch.First...). first.Seq also holds the
	// commit point back.
	first, last record.Position
	// oldest is the earliest arrival buffered (data freshness, and the
	// batch's Arrived).
	oldest time.Time
	// since is Partitions.read when the first record came.
	since int64
	// slab holds copies of a keyed partition's Data; see own.
	slab []byte
	// held is what this partition is charged for: its records' Data, or
	// for a keyed partition its slabs.
	held int64
}

// NewPartitions returns an empty set of partitions flushing under p.
func NewPartitions(p Policy, l Limits, clk Clock) *Partitions {
	return &Partitions{policy: p, limits: l.withDefaults(p), clk: clk, parts: map[string]*partition{}}
}

// Limits returns the limits in force, defaults applied.
func (s *Partitions) Limits() Limits { return s.limits }

// Len is the number of active partitions.
func (s *Partitions) Len() int { return len(s.parts) }

// Bytes is the memory held over all partitions: Data for the unkeyed
// partition, slabs for keyed ones.
func (s *Partitions) Bytes() int64 { return s.held }

// Read counts records read from the log, the measure of how far behind a
// quiet partition holds the commit point. Call it for every chunk read,
// before adding what became of it.
func (s *Partitions) Read(recs []record.Record) {
	for i := range recs {
		s.read += int64(len(recs[i].Data))
	}
}

// Add buffers r in partition key and returns the batches to write now, in
// order: the partition's batch if r did not fit into it (so a record
// bigger than Policy.MaxBytes is a batch of its own), and the batch r
// filled. It returns ErrTooManyPartitions, and keeps nothing, when key
// would be one partition too many.
//
// Taken batches are the caller's: CommitPoint no longer counts them, so
// write them before committing.
func (s *Partitions) Add(key string, r record.Record) ([]*record.Batch, error) {
	p := s.parts[key]
	if p == nil {
		if len(s.parts) >= s.limits.MaxPartitions {
			return nil, ErrTooManyPartitions
		}
		p = &partition{key: key, b: Batcher{p: s.policy, clk: s.clk}}
		s.parts[key] = p
	}
	var out []*record.Batch
	if !p.b.Fits(r) {
		// The partition stays, with its Batcher's size hint for the next batch.
		out = append(out, s.cut(p))
	}
	if p.b.Len() == 0 {
		p.first, p.oldest, p.since = r.Pos(), r.Arrived, s.read
	} else if earlier(r.Arrived, p.oldest) {
		p.oldest = r.Arrived // arrival order is the log's, but clocks step
	}
	held := p.held
	if key != "" {
		p.own(&r)
	} else {
		p.held += int64(len(r.Data))
	}
	s.held += p.held - held
	p.last = r.Pos()
	if p.b.Add(r) {
		out = append(out, s.take(p))
	}
	return out, nil
}

// own copies r's Data into the partition's slab. Records read and
// processed together share one buffer (the stream reader's, a processor's
// arena); spread over many partitions, one record left in a partition
// would keep its whole chunk alive, so memory would no longer follow the
// held bytes. The unkeyed partition flushes whole chunks together and
// skips this.
func (p *partition) own(r *record.Record) {
	n := len(r.Data)
	if cap(p.slab)-len(p.slab) < n {
		// A new slab, never a grown one: earlier records point into the old.
		// Sized to the first record, then doubling (up to maxSlab): a
		// partition holding one record costs about that record, which
		// matters with thousands of partitions under one byte cap.
		p.slab = make([]byte, 0, max(n, min(2*cap(p.slab), maxSlab)))
		p.held += int64(cap(p.slab))
	}
	start := len(p.slab)
	p.slab = append(p.slab, r.Data...)
	r.Data = p.slab[start:len(p.slab):len(p.slab)]
}

// cut takes p's batch out, leaving p open and empty.
func (s *Partitions) cut(p *partition) *record.Batch {
	s.held -= p.held
	p.slab, p.held = nil, 0
	return &record.Batch{
		First: p.first.Seq, FirstSub: p.first.Sub,
		Last: p.last.Seq, LastSub: p.last.Sub,
		Arrived: p.oldest,
		Records: p.b.Flush(),
	}
}

// take takes p's batch out and closes p.
func (s *Partitions) take(p *partition) *record.Batch {
	delete(s.parts, p.key)
	return s.cut(p)
}

// TakeDue takes out the partitions that are full, past their interval at
// now, or that hold records from more than four byte caps of the log back:
// the commit point cannot pass a buffered record, so a quiet partition
// would otherwise keep a whole interval of the log (at full ingest rate)
// from being trimmed, and re-delivered after a crash.
func (s *Partitions) TakeDue(now time.Time) []*record.Batch {
	maxLag := lagCaps * s.limits.MaxBytes
	var out []*record.Batch
	for _, p := range s.parts {
		if p.b.Due(now) || s.read-p.since > maxLag {
			out = append(out, s.take(p))
		}
	}
	return out
}

// TakeOverCap takes out, when more than Limits.MaxBytes are held, the
// biggest partitions until at most half the cap is left: one round of
// concurrent writes then makes room for many reads, where flushing just
// enough to get under would write one small batch at a time.
func (s *Partitions) TakeOverCap() []*record.Batch {
	if s.held <= s.limits.MaxBytes {
		return nil
	}
	excess := s.held - s.limits.MaxBytes/2
	all := slices.SortedFunc(maps.Values(s.parts), func(a, b *partition) int {
		return cmp.Or(cmp.Compare(b.held, a.held), strings.Compare(a.key, b.key))
	})
	var out []*record.Batch
	for _, p := range all {
		if excess <= 0 {
			break
		}
		excess -= p.held
		out = append(out, s.take(p))
	}
	return out
}

// TakeAll takes every partition out (drain, shard end).
func (s *Partitions) TakeAll() []*record.Batch {
	out := make([]*record.Batch, 0, len(s.parts))
	for _, p := range s.parts {
		out = append(out, s.take(p))
	}
	return out
}

// CommitPoint is the checkpoint its owner may write when everything below
// readPos was read and every batch taken out is resolved: the lowest
// sequence number still buffered, or readPos when nothing is.
func (s *Partitions) CommitPoint(readPos uint64) uint64 {
	next := readPos
	for _, p := range s.parts {
		next = min(next, p.first.Seq)
	}
	return next
}

// NextDeadline is the earliest interval deadline over the partitions; ok is
// false when nothing is buffered.
func (s *Partitions) NextDeadline() (next time.Time, ok bool) {
	for _, p := range s.parts {
		if dl, has := p.b.Deadline(); has && (!ok || dl.Before(next)) {
			next, ok = dl, true
		}
	}
	return next, ok
}

// Oldest is the arrival of the oldest buffered record, zero when nothing
// is buffered.
func (s *Partitions) Oldest() time.Time {
	var oldest time.Time
	for _, p := range s.parts {
		if earlier(p.oldest, oldest) {
			oldest = p.oldest
		}
	}
	return oldest
}

// earlier reports whether arrival t comes before u, where a zero time is
// an unknown arrival: it is never earlier, and anything known beats it.
// Without that rule the answer would depend on map order.
func earlier(t, u time.Time) bool {
	return !t.IsZero() && (u.IsZero() || t.Before(u))
}
