package buffer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
)

// at is a record of n bytes at position (seq, sub).
func at(seq uint64, sub uint32, n int) record.Record {
	r := rec(n)
	r.Seq, r.Sub = seq, sub
	return r
}

// sizes lists the Data lengths of each batch's records.
func sizes(batches []*record.Batch) [][]int {
	var out [][]int
	for _, b := range batches {
		var l []int
		for _, r := range b.Records {
			l = append(l, len(r.Data))
		}
		out = append(out, l)
	}
	return out
}

// addAll adds recs to key, failing on an error, and returns the batches
// Add handed back.
func addAll(t *testing.T, s *Partitions, key string, recs ...record.Record) []*record.Batch {
	t.Helper()
	var out []*record.Batch
	for _, r := range recs {
		b, err := s.Add(key, r)
		require.NoError(t, err)
		out = append(out, b...)
	}
	return out
}

func TestPartitions_SizeFlush(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 10, Interval: time.Hour}, Limits{}, &fakeClock{})
	require.Empty(t, addAll(t, s, "", rec(4), rec(4)))
	got := addAll(t, s, "", rec(4))
	require.Equal(t, [][]int{{4, 4}}, sizes(got), "a record that does not fit starts the next batch")
	require.Equal(t, 1, s.Len(), "the partition stays open with the new record")
	require.Equal(t, int64(4), s.Bytes())

	got = addAll(t, s, "", rec(6))
	require.Equal(t, [][]int{{4, 6}}, sizes(got), "reaching MaxBytes exactly flushes")
	require.Zero(t, s.Len())
	require.Zero(t, s.Bytes())
}

func TestPartitions_RecordCountFlush(t *testing.T) {
	s := NewPartitions(Policy{MaxRecords: 2, Interval: time.Hour}, Limits{}, &fakeClock{})
	require.Empty(t, addAll(t, s, "a", rec(1)))
	require.Equal(t, [][]int{{1, 1}}, sizes(addAll(t, s, "a", rec(1))))
}

func TestPartitions_RecordBiggerThanMaxBytesIsAlone(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 10, Interval: time.Hour}, Limits{}, &fakeClock{})
	got := addAll(t, s, "k", rec(3), rec(50), rec(3), rec(3))
	require.Equal(t, [][]int{{3}, {50}}, sizes(got), "the batch before it, then it alone, both from one Add")
	require.Equal(t, [][]int{{3, 3}}, sizes(s.TakeAll()))
}

func TestPartitions_IntervalFlush(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	s := NewPartitions(Policy{MaxBytes: 1 << 20, Interval: time.Minute}, Limits{}, clk)
	_, ok := s.NextDeadline()
	require.False(t, ok, "nothing buffered, no deadline")

	addAll(t, s, "a", rec(1))
	clk.t = clk.t.Add(20 * time.Second)
	addAll(t, s, "b", rec(1))
	addAll(t, s, "a", rec(1))
	dl, ok := s.NextDeadline()
	require.True(t, ok)
	require.Equal(t, time.Unix(1060, 0), dl, "the earliest partition's, from its first record")

	require.Empty(t, s.TakeDue(dl.Add(-time.Nanosecond)))
	due := s.TakeDue(dl)
	require.Equal(t, [][]int{{1, 1}}, sizes(due), "only a is due")
	dl, _ = s.NextDeadline()
	require.Equal(t, time.Unix(1080, 0), dl, "b's deadline is next")
	require.Len(t, s.TakeDue(dl), 1)
	require.Zero(t, s.Len())
}

func TestPartitions_ActivePartitionCap(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 1 << 20, Interval: time.Hour}, Limits{MaxPartitions: 2}, &fakeClock{})
	addAll(t, s, "a", at(0, 0, 1))
	addAll(t, s, "b", at(1, 0, 1))
	_, err := s.Add("c", at(2, 0, 5))
	require.ErrorIs(t, err, ErrTooManyPartitions)
	require.Equal(t, 2, s.Len())
	require.Equal(t, int64(2), s.Bytes(), "an overflowing record is not kept")
	require.Equal(t, uint64(0), s.CommitPoint(3))
	addAll(t, s, "a", at(3, 0, 1)) // an open partition still takes records

	require.Len(t, s.TakeAll(), 2)
	require.Empty(t, addAll(t, s, "c", at(4, 0, 1)), "room again once partitions flushed")
	require.Equal(t, 2, NewPartitions(Policy{}, Limits{MaxPartitions: 2}, &fakeClock{}).Limits().MaxPartitions)
	require.Equal(t, DefaultMaxPartitions, NewPartitions(Policy{}, Limits{}, &fakeClock{}).Limits().MaxPartitions)
}

func TestPartitions_LimitsDefaults(t *testing.T) {
	l := NewPartitions(Policy{MaxBytes: 1 << 20}, Limits{}, &fakeClock{}).Limits()
	require.Equal(t, Limits{MaxPartitions: DefaultMaxPartitions, MaxBytes: DefaultMaxBytes}, l)
	l = NewPartitions(Policy{MaxBytes: 128 << 20}, Limits{MaxBytes: 1 << 20}, &fakeClock{}).Limits()
	require.Equal(t, int64(128<<20), l.MaxBytes, "the cap holds at least one full batch")
}

// keyedRec is a 3,000-byte record for the byte cap tests.
func keyedRec(seq uint64) record.Record { return at(seq, 0, 3000) }

func TestPartitions_SlabAccounting(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 1 << 20, Interval: time.Hour}, Limits{}, &fakeClock{})
	chunk := bytes.Repeat([]byte{'x'}, 4000)
	r := record.Record{Data: chunk[:3000]}
	addAll(t, s, "a", r)
	require.Equal(t, int64(3000), s.Bytes(), "the first slab is sized to the first record")
	addAll(t, s, "a", r)
	require.Equal(t, int64(3000+6000), s.Bytes(), "then a new slab of twice the last")
	addAll(t, s, "a", r)
	require.Equal(t, int64(9000), s.Bytes(), "which has room for the third record")
	addAll(t, s, "", r)
	require.Equal(t, int64(12000), s.Bytes(), "the unkeyed partition is charged its Data")

	chunk[0] = 'y' // the reader reuses its buffer
	var keyed, unkeyed *record.Batch
	for _, b := range s.TakeAll() {
		if len(b.Records) == 3 {
			keyed = b
		} else {
			unkeyed = b
		}
	}
	for _, r := range keyed.Records {
		require.Equal(t, byte('x'), r.Data[0], "a keyed partition owns copies")
		require.Equal(t, len(r.Data), cap(r.Data), "a copy cannot be appended to over its neighbour")
	}
	require.Equal(t, byte('y'), unkeyed.Records[0].Data[0], "the unkeyed partition keeps the chunk's Data")
	require.Zero(t, s.Bytes())
}

func TestPartitions_SlabsAreCappedAtOneMiB(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 64 << 20, Interval: time.Hour}, Limits{MaxBytes: 64 << 20}, &fakeClock{})
	r := rec(300 << 10)
	for range 20 {
		addAll(t, s, "a", r)
	}
	// Slabs of 300 KiB, 600 KiB, then 1 MiB each holding three records.
	require.Equal(t, int64(300<<10+600<<10+6*(1<<20)), s.Bytes())
}

func TestPartitions_OverCapFlushesTheBiggestDownToHalf(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 10000, Interval: time.Hour}, Limits{MaxBytes: 10000}, &fakeClock{})
	addAll(t, s, "a", keyedRec(0))
	addAll(t, s, "b", keyedRec(1))
	require.Nil(t, s.TakeOverCap(), "6,000 bytes held, under the cap")
	addAll(t, s, "a", keyedRec(2))
	require.Equal(t, int64(12000), s.Bytes(), "a's second slab is twice its first")
	got := s.TakeOverCap()
	require.Len(t, got, 1, "a alone brings 12,000 down to 3,000, under half the cap")
	require.Len(t, got[0].Records, 2)
	require.Equal(t, uint64(0), got[0].First)
	require.Equal(t, uint64(2), got[0].Last)
	require.Equal(t, int64(3000), s.Bytes())

	// Many partitions: the biggest go first until at most half the cap is left.
	s = NewPartitions(Policy{MaxBytes: 10000, Interval: time.Hour}, Limits{MaxBytes: 10000}, &fakeClock{})
	for i, k := range []string{"a", "b", "c", "d"} {
		addAll(t, s, k, keyedRec(uint64(i)))
	}
	addAll(t, s, "c", keyedRec(4)) // c: 9,000 held (two slabs)
	require.Equal(t, int64(18000), s.Bytes())
	got = s.TakeOverCap()
	var firsts []uint64
	for _, b := range got {
		firsts = append(firsts, b.First)
	}
	require.Equal(t, []uint64{2, 0, 1}, firsts, "c (9,000), then a and b (3,000 each, by key among equals): 18,000 down to 3,000")
	require.Equal(t, int64(3000), s.Bytes())
	require.Nil(t, s.TakeOverCap())
}

func TestPartitions_LagFlush(t *testing.T) {
	now := time.Unix(0, 0)
	s := NewPartitions(Policy{MaxBytes: 100, Interval: time.Hour}, Limits{MaxBytes: 100}, &fakeClock{t: now}) // lag limit 400
	read := func(key string, seq uint64, n int) {
		chunk := []record.Record{at(seq, 0, n)}
		s.Read(chunk)
		addAll(t, s, key, chunk...)
	}
	read("rare", 0, 10)
	for seq := uint64(1); seq <= 40; seq++ {
		read("busy", seq, 10) // busy flushes every ten records by size
	}
	require.Equal(t, uint64(0), s.CommitPoint(41), "the rare record holds the checkpoint")
	require.Empty(t, s.TakeDue(now), "400 bytes read since rare's record: at the limit, not past it")

	for seq := uint64(41); seq <= 43; seq++ {
		read("busy", seq, 10)
	}
	got := s.TakeDue(now)
	require.Len(t, got, 1, "past four caps of the log behind, rare flushes")
	require.Equal(t, uint64(0), got[0].First)
	require.Equal(t, uint64(41), s.CommitPoint(44), "busy's first buffered record holds it now")
}

func TestPartitions_BatchRangeNamesSubRecords(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 12, Interval: time.Hour}, Limits{}, &fakeClock{})
	// One source record became three 6-byte sub-records, then one more record.
	got := addAll(t, s, "k", at(5, 0, 6), at(5, 1, 6), at(5, 2, 6), at(6, 0, 6))
	got = append(got, s.TakeAll()...)
	type span struct {
		first, last record.Position
	}
	var spans []span
	for _, b := range got {
		spans = append(spans, span{record.Position{Seq: b.First, Sub: b.FirstSub}, record.Position{Seq: b.Last, Sub: b.LastSub}})
		require.Equal(t, b.Records[0].Pos(), spans[len(spans)-1].first)
		require.Equal(t, b.Records[len(b.Records)-1].Pos(), spans[len(spans)-1].last)
	}
	require.Equal(t, []span{{record.Position{Seq: 5}, record.Position{Seq: 5, Sub: 1}}, {record.Position{Seq: 5, Sub: 2}, record.Position{Seq: 6}}}, spans)
}

func TestPartitions_OldestAndLen(t *testing.T) {
	s := NewPartitions(Policy{MaxBytes: 1 << 20, Interval: time.Hour}, Limits{}, &fakeClock{})
	require.True(t, s.Oldest().IsZero())
	a, b := rec(1), rec(1)
	a.Arrived, b.Arrived = time.Unix(200, 0), time.Unix(100, 0)
	addAll(t, s, "a", a)
	addAll(t, s, "b", b)
	addAll(t, s, "a", rec(1))
	require.Equal(t, time.Unix(100, 0), s.Oldest())
	require.Equal(t, 2, s.Len())
	require.Len(t, s.TakeAll(), 2)
	require.True(t, s.Oldest().IsZero())
}

// TestPartitions_CommitPointNeverPassesABufferedRecord adds records of
// random sizes to random partitions, takes batches out every way there
// is, and checks after each step that the commit point is at or below
// every record still buffered.
func TestPartitions_CommitPointNeverPassesABufferedRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	clk := &fakeClock{t: time.Unix(0, 0)}
	s := NewPartitions(Policy{MaxBytes: 500, Interval: time.Second}, Limits{MaxPartitions: 5, MaxBytes: 2000}, clk)
	buffered := map[record.Position]bool{}
	release := func(batches []*record.Batch) {
		for _, b := range batches {
			for _, r := range b.Records {
				require.True(t, buffered[r.Pos()], "each record is taken once")
				delete(buffered, r.Pos())
			}
		}
	}
	var seq uint64
	for range 5000 {
		chunk := make([]record.Record, rng.IntN(8)+1)
		for i := range chunk {
			chunk[i] = at(seq, 0, rng.IntN(300))
			seq++
		}
		s.Read(chunk)
		for _, r := range chunk {
			for sub := range uint32(rng.IntN(3) + 1) {
				r.Sub = sub
				key := fmt.Sprint(rng.IntN(8))
				out, err := s.Add(key, r)
				if err != nil {
					continue
				}
				buffered[r.Pos()] = true
				release(out)
			}
		}
		release(s.TakeOverCap())
		clk.t = clk.t.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
		release(s.TakeDue(clk.t))

		cp := s.CommitPoint(seq)
		for pos := range buffered {
			require.LessOrEqual(t, cp, pos.Seq)
		}
		if len(buffered) == 0 {
			require.Equal(t, seq, cp, "nothing buffered: everything read")
		}
		require.LessOrEqual(t, s.Len(), 5)
	}
	release(s.TakeAll())
	require.Empty(t, buffered)
	require.Zero(t, s.Bytes())
	require.Equal(t, seq, s.CommitPoint(seq))
}

func TestPartitions_AddDoesNotAllocatePerRecord(t *testing.T) {
	for _, key := range []string{"", "k"} {
		s := NewPartitions(Policy{MaxBytes: 1 << 30, Interval: time.Hour}, Limits{MaxBytes: 1 << 30}, &fakeClock{})
		r := rec(100)
		addAll(t, s, key, r)
		// Slabs and the batch's slice grow geometrically: less than one
		// allocation a record on average, which AllocsPerRun rounds to 0.
		allocs := testing.AllocsPerRun(10000, func() {
			if _, err := s.Add(key, r); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "key %q", key)
	}
}

func BenchmarkPartitions(b *testing.B) {
	const size = 200
	for _, keys := range []int{1, 100} {
		b.Run(fmt.Sprintf("partitions=%d", keys), func(b *testing.B) {
			names := []string{""} // a sink that does not partition
			if keys > 1 {
				names = names[:0]
				for i := range keys {
					names = append(names, fmt.Sprintf("k%03d", i))
				}
			}
			clk := &fakeClock{t: time.Unix(0, 0)}
			s := NewPartitions(Policy{MaxBytes: 1 << 20, Interval: time.Minute}, Limits{}, clk)
			chunk := make([]record.Record, (1<<20)/size) // one read
			for i := range chunk {
				chunk[i] = rec(size)
			}
			var n, seq uint64
			b.ReportAllocs()
			for b.Loop() {
				s.Read(chunk)
				for i := range chunk {
					chunk[i].Seq = seq
					seq++
					if _, err := s.Add(names[seq%uint64(len(names))], chunk[i]); err != nil {
						b.Fatal(err)
					}
				}
				s.TakeOverCap()
				clk.t = clk.t.Add(time.Second)
				s.TakeDue(clk.t)
				_ = s.CommitPoint(seq)
				n += uint64(len(chunk))
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(n*size)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
		})
	}
}
