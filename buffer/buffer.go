// Package buffer decides when records are flushed: a Batcher collects
// records for one destination (or one active partition) until its size or
// its interval is reached, whichever comes first, as Firehose's buffering
// hints do. Partitions keeps one Batcher per partition of a (destination,
// shard) and owns what bounds them together: the active-partition cap, the
// byte cap (the biggest partitions flush early), the lag limit of a quiet
// partition, and the commit point they allow.
//
// It is pure bookkeeping: no goroutines, no timers, no I/O. The owner reads
// the next deadline, arms its own timer, writes the batches it takes out,
// and commits.
package buffer

import (
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

// Policy holds the flush thresholds. A zero MaxBytes or MaxRecords means no
// limit on that dimension; Interval 0 means records are due as soon as they
// arrive.
type Policy struct {
	// MaxBytes flushes when the buffered Data bytes reach it (bytes as they
	// will be written, before compression).
	MaxBytes int64
	// MaxRecords flushes when this many records are buffered.
	MaxRecords int
	// Interval is the longest a record waits, measured from the first record
	// added to the current batch.
	Interval time.Duration
}

// Clock tells the time. Tests inject a fake; production passes WallClock.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// WallClock is the system clock.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// maxPrealloc caps the capacity reserved for a new batch.
const maxPrealloc = 4096

// Batcher accumulates records under a Policy. It is not safe for concurrent
// use; each buffer has one owner.
type Batcher struct {
	p     Policy
	clk   Clock
	recs  []record.Record
	bytes int64
	first time.Time // add time of the first record of the batch
	hint  int       // size of the last flushed batch, to preallocate the next
}

// New returns an empty Batcher.
func New(p Policy, clk Clock) *Batcher {
	return &Batcher{p: p, clk: clk}
}

// Policy returns the batcher's policy.
func (b *Batcher) Policy() Policy { return b.p }

// Fits reports whether r can join the current batch without taking it past
// MaxBytes. It is always true for an empty batch, so a record bigger than
// MaxBytes becomes a batch of its own: owners that want that call
//
//	if !b.Fits(r) { emit(b.Flush()) }
//	if b.Add(r) { emit(b.Flush()) }
func (b *Batcher) Fits(r record.Record) bool {
	return len(b.recs) == 0 || b.p.MaxBytes <= 0 || b.bytes+int64(len(r.Data)) <= b.p.MaxBytes
}

// Add appends r and reports whether the batch is now full (by size or
// count) and should be flushed.
func (b *Batcher) Add(r record.Record) (full bool) {
	if len(b.recs) == 0 {
		b.first = b.clk.Now()
		if b.recs == nil {
			b.recs = make([]record.Record, 0, b.prealloc())
		}
	}
	b.recs = append(b.recs, r)
	b.bytes += int64(len(r.Data))
	return b.full()
}

func (b *Batcher) prealloc() int {
	n := b.hint
	if b.p.MaxRecords > 0 && (n == 0 || n > b.p.MaxRecords) {
		n = b.p.MaxRecords
	}
	return min(max(n, 1), maxPrealloc)
}

func (b *Batcher) full() bool {
	return (b.p.MaxRecords > 0 && len(b.recs) >= b.p.MaxRecords) ||
		(b.p.MaxBytes > 0 && b.bytes >= b.p.MaxBytes)
}

// Len is the number of buffered records.
func (b *Batcher) Len() int { return len(b.recs) }

// Bytes is the number of buffered Data bytes.
func (b *Batcher) Bytes() int64 { return b.bytes }

// Deadline is when the current batch is due by interval: the first record's
// add time plus Interval. ok is false when the batch is empty.
func (b *Batcher) Deadline() (deadline time.Time, ok bool) {
	if len(b.recs) == 0 {
		return time.Time{}, false
	}
	return b.first.Add(b.p.Interval), true
}

// Due reports whether the batch should be flushed at now: it is non-empty
// and either full or past its deadline.
func (b *Batcher) Due(now time.Time) bool {
	if len(b.recs) == 0 {
		return false
	}
	return b.full() || !now.Before(b.first.Add(b.p.Interval))
}

// Flush returns the buffered records (nil if none) and starts a new batch.
// The caller owns the returned slice.
func (b *Batcher) Flush() []record.Record {
	out := b.recs
	if len(out) > 0 {
		b.hint = len(out)
	}
	b.recs = nil
	b.bytes = 0
	b.first = time.Time{}
	return out
}
