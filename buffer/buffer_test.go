package buffer

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
)

// fakeClock is a manually advanced Clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func rec(n int) record.Record { return record.Record{Data: bytes.Repeat([]byte{'x'}, n)} }

func TestBuffer_SizeAndCount(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		sizes  []int
		// fullAt lists, per Add, whether it reported full.
		fullAt []bool
	}{
		{"count", Policy{MaxRecords: 3}, []int{1, 1, 1}, []bool{false, false, true}},
		{"bytes reached exactly", Policy{MaxBytes: 10}, []int{4, 6}, []bool{false, true}},
		{"bytes exceeded", Policy{MaxBytes: 10}, []int{4, 4, 4}, []bool{false, false, true}},
		{"oversized single record", Policy{MaxBytes: 10}, []int{100}, []bool{true}},
		{"no limits", Policy{}, []int{1 << 20, 1 << 20}, []bool{false, false}},
		{"count before bytes", Policy{MaxBytes: 100, MaxRecords: 2}, []int{1, 1}, []bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.policy, &fakeClock{})
			var total int64
			for i, n := range tt.sizes {
				require.Equal(t, tt.fullAt[i], b.Add(rec(n)), "add %d", i)
				total += int64(n)
			}
			require.Equal(t, len(tt.sizes), b.Len())
			require.Equal(t, total, b.Bytes())
			out := b.Flush()
			require.Len(t, out, len(tt.sizes))
			require.Zero(t, b.Len())
			require.Zero(t, b.Bytes())
			_, ok := b.Deadline()
			require.False(t, ok)
		})
	}
}

func TestBuffer_OversizedRecordIsAlone(t *testing.T) {
	b := New(Policy{MaxBytes: 10}, &fakeClock{})
	var batches [][]record.Record
	for _, n := range []int{3, 50, 3, 3} {
		r := rec(n)
		if !b.Fits(r) {
			batches = append(batches, b.Flush())
		}
		if b.Add(r) {
			batches = append(batches, b.Flush())
		}
	}
	batches = append(batches, b.Flush())
	var lens [][]int
	for _, batch := range batches {
		var l []int
		for _, r := range batch {
			l = append(l, len(r.Data))
		}
		lens = append(lens, l)
	}
	require.Equal(t, [][]int{{3}, {50}, {3, 3}}, lens)
}

func TestBuffer_DeadlineFromFirstRecord(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(Policy{Interval: time.Minute}, clk)
	require.False(t, b.Due(clk.t), "empty batch is never due")
	b.Add(rec(1))
	first := clk.t
	clk.t = clk.t.Add(30 * time.Second)
	b.Add(rec(1))
	d, ok := b.Deadline()
	require.True(t, ok)
	require.Equal(t, first.Add(time.Minute), d, "later adds do not move the deadline")
	require.False(t, b.Due(d.Add(-time.Nanosecond)))
	require.True(t, b.Due(d))
	b.Flush()
	clk.t = clk.t.Add(time.Hour)
	b.Add(rec(1))
	d, _ = b.Deadline()
	require.Equal(t, clk.t.Add(time.Minute), d, "new batch, new deadline")
}

func TestBuffer_ZeroIntervalDueImmediately(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(Policy{MaxBytes: 1 << 20}, clk)
	b.Add(rec(1))
	d, ok := b.Deadline()
	require.True(t, ok)
	require.Equal(t, clk.t, d)
	require.True(t, b.Due(clk.t))
}

func TestBuffer_DueWhenFull(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(Policy{MaxRecords: 1, Interval: time.Hour}, clk)
	b.Add(rec(1))
	require.True(t, b.Due(clk.t))
}

// TestBuffer_SynctestIntervalFlush drives a Batcher the way the delivery
// loop does, with a real timer on the bubble's fake clock.
func TestBuffer_SynctestIntervalFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 5 * time.Second
		b := New(Policy{MaxRecords: 100, Interval: interval}, WallClock{})
		start := time.Now()
		b.Add(rec(1))
		time.Sleep(2 * time.Second)
		b.Add(rec(1))
		d, ok := b.Deadline()
		require.True(t, ok)
		require.Equal(t, start.Add(interval), d)

		timer := time.NewTimer(time.Until(d))
		defer timer.Stop()
		<-timer.C
		now := time.Now()
		require.Equal(t, start.Add(interval), now)
		require.True(t, b.Due(now))
		require.Len(t, b.Flush(), 2)

		time.Sleep(time.Hour)
		require.False(t, b.Due(time.Now()), "empty batch stays idle")
		b.Add(rec(1))
		require.False(t, b.Due(time.Now().Add(interval-time.Nanosecond)))
		require.True(t, b.Due(time.Now().Add(interval)))
	})
}

func TestBuffer_FlushOwnership(t *testing.T) {
	b := New(Policy{MaxRecords: 2}, &fakeClock{})
	b.Add(record.Record{ID: "a"})
	b.Add(record.Record{ID: "b"})
	first := b.Flush()
	b.Add(record.Record{ID: "c"})
	require.Equal(t, "a", first[0].ID, "a new batch must not overwrite a flushed one")
	require.Nil(t, New(Policy{}, &fakeClock{}).Flush())
}

func BenchmarkBuffer_AddFlush(b *testing.B) {
	const batch = 500
	bt := New(Policy{MaxRecords: batch, Interval: time.Second}, ClockFunc(time.Now))
	r := rec(100)
	var n int
	for b.Loop() {
		for {
			n++
			if bt.Add(r) {
				bt.Flush()
				break
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N*batch*100)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}
