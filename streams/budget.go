package streams

import "sync/atomic"

// Budget is a disk budget shared by every stream of a server: the bytes of
// WAL segments held on disk. Streams add what they write and subtract what
// they trim; Append refuses with record.ErrBackpressure while the budget is
// used up. A nil *Budget is unlimited. It is safe for concurrent use.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a budget of maxBytes; maxBytes <= 0 means unlimited.
func NewBudget(maxBytes int64) *Budget { return &Budget{max: maxBytes} }

// Add accounts delta bytes (negative when freeing).
func (b *Budget) Add(delta int64) {
	if b != nil {
		b.used.Add(delta)
	}
}

// Used returns the bytes currently accounted.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Max returns the limit in bytes (0: unlimited).
func (b *Budget) Max() int64 {
	if b == nil || b.max <= 0 {
		return 0
	}
	return b.max
}

// Over reports whether the budget is used up. The check is soft: appends
// admitted just below the limit may overshoot it by one batch each.
func (b *Budget) Over() bool {
	return b != nil && b.max > 0 && b.used.Load() >= b.max
}
