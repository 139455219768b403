// Package sinktest is the conformance suite of the sink contract (see
// package sinks): every sink runs Run in its own tests, against its real
// server, to show that it keeps the promises the delivery runtime relies
// on.
//
// A sink's test describes its destination with a Harness: how to open a
// fresh one, how to read back what reached it through the destination's
// own API (never the sink's memory), and, where the destination allows,
// how to break it for a while, how to misconfigure it and which records
// the sink rejects on its own. Run then writes batches built like the
// runtime builds them (Records, Cut, Batch, Retry) and checks, in
// subtests:
//
//   - Delivery: batches of several shards, with sub-records and one source
//     record split across batches, are delivered once each with their
//     content; Write neither modifies nor keeps the records.
//   - PerRecordFailures: a *sinks.BatchError names exactly the bad
//     records, permanent and with their error output type; the good
//     records of the batch are delivered.
//   - Outage: a broken destination gives a retryable error; once restored,
//     the runtime's retry delivers everything once.
//   - Misconfigured: a misconfiguration no retry can fix gives a
//     permanent error.
//   - SameBatchTwice, RetryOfSubset, RetryOfSubsetAcrossHours: writing
//     a batch identity again, whole or in part, leaves one copy, also
//     when the part left arrived hours after the batch's first record.
//   - Recut (Harness.ExactlyOnce only): records re-read after a crash and
//     cut into other batches are not delivered twice.
//   - Concurrent: many goroutines writing batches of different shards and
//     of different partitions of one shard at once (run with -race).
//   - CloseAfterWrites, CancelledContext, CancelMidWrite: Close after
//     in-flight Writes; a cancelled ctx makes Write return promptly,
//     never reporting an undelivered batch as delivered.
//   - Check: a sinks.Checker reports a healthy destination, a broken one
//     and a misconfigured one, and writes nothing.
//
// Subtests a harness cannot support are skipped with the reason; the
// skips are the sink's documented gaps.
//
// Record data is one JSON object per record by default (Payload: id,
// shard, seq, sub and a filler body, ending in a newline), distinct for
// every record, so that what Read returns can be matched to what was
// written; a destination that re-encodes documents (a Parquet file, a
// search index) may return them in any key order. A network sink points
// at a Proxy to be broken:
//
//	func TestMySink_Conformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Harness{
//			Open: func(t *testing.T) *sinktest.Target {
//				table := freshTable(t) // removed with t.Cleanup
//				proxy := sinktest.NewProxy(t, serverAddr)
//				return &sinktest.Target{
//					Sink:  mysink.New(mysink.Config{Addr: proxy.Addr(), Table: table}),
//					Read:  func(t *testing.T) []sinktest.Delivered { return selectAll(t, table) },
//					Break: proxy.Break,
//				}
//			},
//		})
//	}
package sinktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Harness describes a sink and its destination to Run.
type Harness struct {
	// Open sets up a fresh, empty destination for one subtest and returns
	// the sink under test writing to it (configured with Pipeline and
	// Destination where it needs names). The suite closes the sink; the
	// harness removes the destination with t.Cleanup. Required.
	Open func(t *testing.T) *Target

	// Record, when set, completes each record the suite builds (Data,
	// Seq, Sub, Shard, ID and Arrived are set) for partition p, 0 <= p <
	// max(Partitions, 1): e.g. sets the Meta key a dynamic prefix reads,
	// or replaces Data with what the destination needs (keep it unique
	// per record, e.g. by keeping Payload's fields).
	Record func(r *record.Record, p int)
	// Partitions is how many distinct partitions Record makes (for a
	// sinks.Partitioner); 0 or 1 when the sink does not partition.
	Partitions int

	// Bad, when set, turns a good record into one the sink rejects on its
	// own, permanently and with error output type BadType (e.g. drops the
	// partition key a dynamic prefix needs). nil skips PerRecordFailures.
	Bad     func(r *record.Record)
	BadType string

	// Misconfigured, when set, returns a sink whose destination is set up
	// in a way no retry can fix (e.g. an invalid bucket name): every Write
	// must fail permanently. nil skips Misconfigured.
	Misconfigured func(t *testing.T) sinks.Sink

	// ExactlyOnce says the sink never duplicates, even when records are
	// re-read after a crash and cut into other batches (it keeps the last
	// record.Position it committed per shard). It enables Recut.
	ExactlyOnce bool

	// Skip names subtests the sink is known to fail, with the reason;
	// each shows as skipped with it. Keep it for real gaps, with a plan
	// to close them.
	Skip map[string]string

	// LargeBatch is the size in bytes of the batch CancelMidWrite
	// cancels; 0 means about 1.5 MB. Make it big enough to reach the
	// sink's streaming path (e.g. a multipart upload).
	LargeBatch int

	// WriteTimeout bounds every Write the suite makes; 0 means 2 minutes.
	WriteTimeout time.Duration
	// CancelWithin is how soon Write must return once its ctx is
	// cancelled; 0 means 10 seconds.
	CancelWithin time.Duration
}

// Target is one destination under test, from Harness.Open.
type Target struct {
	// Sink writes to the destination.
	Sink sinks.Sink
	// Read returns every record the destination holds, read back through
	// its own API (list and read objects, query a table, ...). It must
	// see every Write that returned (refresh an index first if needed).
	Read func(t *testing.T) []Delivered
	// Count, for a sink that keeps no content, returns how many records
	// and bytes of data reached the destination; used when Read is nil.
	// One of Read and Count is required.
	Count func(t *testing.T) (records, bytes int64)
	// Break, when set, makes the destination unreachable (a transient
	// outage, as a network cut or a stopped server) until restore is
	// called. nil skips Outage and the outage half of Check.
	Break func(t *testing.T) (restore func())
}

// Run runs the conformance suite against the sink h describes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.Open, "Harness.Open is required")
	if h.WriteTimeout == 0 {
		h.WriteTimeout = 2 * time.Minute
	}
	if h.LargeBatch == 0 {
		h.LargeBatch = 1500 << 10
	}
	if h.CancelWithin == 0 {
		h.CancelWithin = 10 * time.Second
	}
	s := &suite{h: h}
	subtests := []struct {
		name string
		f    func(*testing.T)
	}{
		{"Delivery", s.delivery},
		{"PerRecordFailures", s.perRecordFailures},
		{"Outage", s.outage},
		{"Misconfigured", s.misconfigured},
		{"SameBatchTwice", s.sameBatchTwice},
		{"RetryOfSubset", s.retryOfSubset},
		{"RetryOfSubsetAcrossHours", s.retryOfSubsetAcrossHours},
		{"Recut", s.recut},
		{"Concurrent", s.concurrent},
		{"CloseAfterWrites", s.closeAfterWrites},
		{"CancelledContext", s.cancelledContext},
		{"CancelMidWrite", s.cancelMidWrite},
		{"Check", s.check},
	}
	known := map[string]bool{}
	for _, st := range subtests {
		known[st.name] = true
		t.Run(st.name, func(t *testing.T) {
			if why, ok := h.Skip[st.name]; ok {
				t.Skip("a known gap of this sink: " + why)
			}
			st.f(t)
		})
	}
	for name := range h.Skip {
		if !known[name] {
			t.Errorf("Harness.Skip names no subtest: %q", name)
		}
	}
}

type suite struct{ h Harness }

// dest is an opened Target whose sink the suite closes once.
type dest struct {
	*Target
	closeOnce sync.Once
	closeErr  error
}

func (s *suite) open(t *testing.T) *dest {
	t.Helper()
	tg := s.h.Open(t)
	require.NotNil(t, tg, "Harness.Open returned nil")
	require.NotNil(t, tg.Sink, "Target.Sink is required")
	require.True(t, tg.Read != nil || tg.Count != nil, "Target.Read or Target.Count is required")
	d := &dest{Target: tg}
	t.Cleanup(func() {
		if err := d.close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func (d *dest) close() error {
	d.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		d.closeErr = d.Sink.Close(ctx)
	})
	return d.closeErr
}

// records builds n source records of shard from seq on, each expanded
// into subs records, completed by the harness for partition p.
func (s *suite) records(shard record.ShardID, seq uint64, n, subs, p int) []record.Record {
	return s.sized(shard, seq, n, subs, p, 0)
}

// sized is records with bodies of size bytes (0: Records' sizes).
func (s *suite) sized(shard record.ShardID, seq uint64, n, subs, p, size int) []record.Record {
	recs := records(shard, seq, n, subs, size)
	if s.h.Record != nil {
		for i := range recs {
			s.h.Record(&recs[i], p)
		}
	}
	return recs
}

// write calls Write with the suite's timeout.
func (s *suite) write(ctx context.Context, sk sinks.Sink, b *record.Batch) error {
	ctx, cancel := context.WithTimeout(ctx, s.h.WriteTimeout)
	defer cancel()
	return sk.Write(ctx, b)
}

// deliver writes b, and retries what is pending after a retryable
// failure a few times, as the runtime would.
func (s *suite) deliver(t *testing.T, sk sinks.Sink, b *record.Batch) {
	t.Helper()
	err := s.write(t.Context(), sk, b)
	for try := 0; err != nil && try < 3; try++ {
		next := Pending(b, err)
		if next == nil {
			break
		}
		t.Logf("Write %s: %v; retrying %d records", b.ID(), err, len(next.Records))
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
		b = next
		err = s.write(t.Context(), sk, b)
	}
	require.NoError(t, err, "Write %s", b.ID())
}

// delivery: batches of several shards arrive once each, content intact.
func (s *suite) delivery(t *testing.T) {
	d := s.open(t)
	var batches []*record.Batch
	// Shard 0: plain records, several batches.
	batches = append(batches, Cut(s.records(Shard(0), 1, 10, 1, 0), 4)...)
	// Shard 1: each source record became 3 (a deaggregator); batches cut
	// through source records.
	batches = append(batches, Cut(s.records(Shard(1), 100, 4, 3, 0), 5)...)
	// Shard 2: one source record of 6 sub-records split over two batches
	// with the same sequence range and different sub-record ranges.
	batches = append(batches, Cut(s.records(Shard(2), 7, 1, 6, 0), 3)...)
	// Shard 3: a single-record batch, and sequence numbers far apart.
	batches = append(batches, Batch(s.records(Shard(3), 1<<40, 1, 1, 0)))
	if s.h.Partitions > 1 {
		// Shard 4: one batch per partition.
		for p := range s.h.Partitions {
			batches = append(batches, Batch(s.records(Shard(4), uint64(10*p+1), 3, 1, p)))
		}
	}
	var want []record.Record
	for _, b := range batches {
		orig := cloneRecords(b.Records)
		want = append(want, orig...)
		s.deliver(t, d.Sink, b)
		require.Equal(t, orig, b.Records, "Write of %s modified its records", b.ID())
		// The records are the sink's only until Write returns: scribble
		// over them to catch a sink that keeps them.
		for i := range b.Records {
			for j := range b.Records[i].Data {
				b.Records[i].Data[j] = 'X'
			}
		}
	}
	expect(t, d, want, nil)
}

// perRecordFailures: a BatchError names exactly the bad records.
func (s *suite) perRecordFailures(t *testing.T) {
	if s.h.Bad == nil {
		t.Skip("the harness names no record the sink rejects on its own (Harness.Bad)")
	}
	d := s.open(t)
	recs := s.records(Shard(0), 1, 8, 1, 0)
	bad := []int{1, 4, 5}
	for _, i := range bad {
		s.h.Bad(&recs[i])
	}
	b := Batch(recs)
	err := s.write(t.Context(), d.Sink, b)
	requireFailed(t, err, bad, s.h.BadType)
	var good []record.Record
	for i, r := range recs {
		if !slices.Contains(bad, i) {
			good = append(good, r)
		}
	}

	// A batch of only bad records fails whole, record by record, and
	// delivers nothing.
	all := s.records(Shard(1), 1, 3, 1, 0)
	for i := range all {
		s.h.Bad(&all[i])
	}
	err = s.write(t.Context(), d.Sink, Batch(all))
	requireFailed(t, err, []int{0, 1, 2}, s.h.BadType)
	expect(t, d, good, nil)
}

// requireFailed checks err is a *sinks.BatchError naming exactly idx,
// each permanent and of error output type typ.
func requireFailed(t *testing.T, err error, idx []int, typ string) {
	t.Helper()
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be, "Write must fail the bad records alone in a *sinks.BatchError")
	require.ElementsMatch(t, idx, slices.Collect(maps.Keys(be.Failed)), "BatchError.Failed must name exactly the bad records")
	for _, i := range idx {
		ferr := be.Failed[i]
		require.Error(t, ferr, "record %d", i)
		require.True(t, sinks.IsPermanent(ferr), "record %d: a rejected record must fail permanently: %v", i, ferr)
		require.Equal(t, typ, record.ErrorType(ferr, ""), "record %d: error output type of %v", i, ferr)
	}
}

// requireRetryable checks err fails the batch (or every record of it)
// without marking it permanent.
func requireRetryable(t *testing.T, err error, b *record.Batch) {
	t.Helper()
	require.Error(t, err, "Write to a broken destination reported success")
	var be *sinks.BatchError
	if errors.As(err, &be) {
		require.NotEmpty(t, be.Failed, "an empty BatchError")
		for i, ferr := range be.Failed {
			require.Less(t, i, len(b.Records), "BatchError names record %d of %d", i, len(b.Records))
			require.False(t, sinks.IsPermanent(ferr), "an outage must be retryable, record %d: %v", i, ferr)
		}
		return
	}
	require.False(t, sinks.IsPermanent(err), "an outage must be retryable: %v", err)
}

// requirePermanent checks err fails every record of b permanently.
func requirePermanent(t *testing.T, err error, b *record.Batch) {
	t.Helper()
	require.Error(t, err, "Write to a misconfigured destination reported success")
	var be *sinks.BatchError
	if errors.As(err, &be) {
		require.Len(t, be.Failed, len(b.Records), "a misconfiguration fails every record")
		for i, ferr := range be.Failed {
			require.True(t, sinks.IsPermanent(ferr), "record %d: a misconfiguration must be permanent: %v", i, ferr)
		}
		return
	}
	require.True(t, sinks.IsPermanent(err), "a misconfiguration no retry can fix must be permanent: %v", err)
}

// outage: a broken destination gives a retryable error; the retry after
// it is restored delivers everything once.
func (s *suite) outage(t *testing.T) {
	d := s.open(t)
	if d.Break == nil {
		t.Skip("the harness cannot break the destination (Target.Break)")
	}
	before := s.records(Shard(0), 1, 4, 1, 0)
	s.deliver(t, d.Sink, Batch(before))

	restore := d.Break(t)
	b := Batch(s.records(Shard(0), 5, 4, 2, 0))
	err := s.write(t.Context(), d.Sink, b)
	requireRetryable(t, err, b)
	restore()

	s.deliver(t, d.Sink, Pending(b, err))
	expect(t, d, append(before, b.Records...), nil)
}

// misconfigured: what no retry can fix is permanent.
func (s *suite) misconfigured(t *testing.T) {
	if s.h.Misconfigured == nil {
		t.Skip("the harness offers no misconfiguration that no retry can fix (Harness.Misconfigured)")
	}
	sk := s.h.Misconfigured(t)
	b := Batch(s.records(Shard(0), 1, 3, 1, 0))
	requirePermanent(t, s.write(t.Context(), sk, b), b)
	require.NoError(t, sk.Close(t.Context()))
}

// sameBatchTwice: a batch identity written twice leaves one copy.
func (s *suite) sameBatchTwice(t *testing.T) {
	d := s.open(t)
	b := Batch(s.records(Shard(0), 1, 5, 2, 0))
	s.deliver(t, d.Sink, b)
	s.deliver(t, d.Sink, b)
	// A retry is a copy of the batch with the same identity.
	all := make([]int, len(b.Records))
	for i := range all {
		all[i] = i
	}
	s.deliver(t, d.Sink, Retry(b, all...))
	expect(t, d, b.Records, nil)
}

// retryOfSubset: a retry carrying only some records of a batch (what a
// BatchError named) does not duplicate what the first attempt delivered.
// The records left out were delivered by the first attempt; a sink that
// replaces what it wrote under the batch identity (an object sink) may
// hold them no longer, but never twice.
func (s *suite) retryOfSubset(t *testing.T) {
	d := s.open(t)
	b := Batch(s.records(Shard(0), 1, 6, 1, 0))
	s.deliver(t, d.Sink, b)
	retry := Retry(b, 3, 4, 5)
	s.deliver(t, d.Sink, retry)
	expect(t, d, retry.Records, b.Records[:3])
}

// retryOfSubsetAcrossHours is retryOfSubset for a batch whose records
// arrived over several hours (a long buffer interval, a backlog): what
// the retry carries arrived later than the batch's oldest record.
func (s *suite) retryOfSubsetAcrossHours(t *testing.T) {
	d := s.open(t)
	b := Batch(s.records(Shard(0), 1, 6, 1, 0))
	for i := range b.Records {
		b.Records[i].Arrived = Epoch.Add(time.Duration(i) * 61 * time.Minute)
	}
	s.deliver(t, d.Sink, b)
	retry := Retry(b, 3, 4, 5)
	s.deliver(t, d.Sink, retry)
	expect(t, d, retry.Records, b.Records[:3])
}

// recut: records re-read after a crash, cut into other batches (other
// identities), are not delivered twice by an exactly-once sink.
func (s *suite) recut(t *testing.T) {
	if !s.h.ExactlyOnce {
		t.Skip("the sink is at-least-once across re-cut batches (Harness.ExactlyOnce not set)")
	}
	d := s.open(t)
	recs := s.records(Shard(0), 1, 12, 1, 0)
	s.deliver(t, d.Sink, Batch(recs[:8]))
	// After a crash the checkpoint was at record 4: 4.. are read again,
	// in batches of another size.
	for _, b := range Cut(recs[4:], 3) {
		s.deliver(t, d.Sink, b)
	}
	expect(t, d, recs, nil)
}

// concurrent: batches of many shards, and of several partitions of one
// shard, written at once.
func (s *suite) concurrent(t *testing.T) {
	d := s.open(t)
	const shards, perShard, batchSize = 6, 40, 7
	lanes := 1 // one Write in flight per shard and partition, as the runtime
	if s.h.Partitions > 1 {
		lanes = min(s.h.Partitions, 4)
	}
	var want []record.Record
	var work [][]*record.Batch // the batches of one (shard, partition), in order
	for sh := range shards {
		// Records of one shard are dealt round-robin to the partitions,
		// so their batches' sequence ranges interleave.
		laneRecs := make([][]record.Record, lanes)
		for i := range perShard {
			p := i % lanes
			r := s.records(Shard(20+sh), uint64(1+i), 1, 1+sh%3, p)
			laneRecs[p] = append(laneRecs[p], r...)
		}
		for _, recs := range laneRecs {
			want = append(want, recs...)
			work = append(work, Cut(recs, batchSize))
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := make(chan struct{})
	for _, batches := range work {
		wg.Go(func() {
			<-start
			for _, b := range batches {
				err := s.write(t.Context(), d.Sink, b)
				for try := 0; err != nil && try < 3; try++ {
					next := Pending(b, err)
					if next == nil {
						break
					}
					err = s.write(t.Context(), d.Sink, next)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("write %s: %w", b.ID(), err))
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)
	expect(t, d, want, nil)
}

// closeAfterWrites: Close after in-flight Writes have returned.
func (s *suite) closeAfterWrites(t *testing.T) {
	d := s.open(t)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		want []record.Record
		errs []error
	)
	for g := range 8 {
		recs := s.records(Shard(40+g), 1, 9, 1, g%max(s.h.Partitions, 1))
		want = append(want, recs...)
		wg.Go(func() {
			for _, b := range Cut(recs, 3) {
				if err := s.write(t.Context(), d.Sink, b); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("write %s: %w", b.ID(), err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	done := make(chan error, 1)
	go func() { done <- d.close() }()
	select {
	case err := <-done:
		require.NoError(t, err, "Close")
	case <-time.After(time.Minute):
		t.Fatal("Close did not return within a minute")
	}
	expect(t, d, want, nil)
}

// cancelledContext: Write with a cancelled ctx returns an error at once
// and does not report success; the batch is delivered again later.
func (s *suite) cancelledContext(t *testing.T) {
	d := s.open(t)
	b := Batch(s.records(Shard(0), 1, 5, 1, 0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.writeWithin(t, ctx, d.Sink, b, nil)
	require.Error(t, err, "Write with a cancelled context reported success")
	s.deliver(t, d.Sink, b)
	expect(t, d, b.Records, nil)
}

// cancelMidWrite: cancelling the ctx of a large Write, early, half-way
// and late in its progress, makes it return promptly; whatever the
// attempts report, the redelivery leaves one copy.
func (s *suite) cancelMidWrite(t *testing.T) {
	d := s.open(t)
	const recBytes = 1000
	n := max(s.h.LargeBatch/(recBytes+100), 10)
	// A batch of the same size on another shard times a whole Write.
	timing := Batch(s.sized(Shard(1), 1, n, 1, 0, recBytes))
	start := time.Now()
	s.deliver(t, d.Sink, timing)
	took := time.Since(start)
	t.Logf("a Write of %d bytes took %v", timing.Bytes(), took)

	recs := s.sized(Shard(0), 1, n, 1, 0, recBytes)
	b := Batch(recs)
	for _, after := range []time.Duration{took / 10, took / 2, took * 9 / 10} {
		ctx, cancel := context.WithCancel(t.Context())
		cancelled := make(chan time.Time, 1)
		timer := time.AfterFunc(after, func() {
			cancelled <- time.Now()
			cancel()
		})
		err := s.writeWithin(t, ctx, d.Sink, b, cancelled)
		timer.Stop()
		cancel()
		t.Logf("Write cancelled after %v returned %v", after, err)
		if err == nil {
			// It finished before noticing the cancellation: it must then
			// be delivered.
			expect(t, d, append(recs, timing.Records...), nil)
		}
	}
	s.deliver(t, d.Sink, b)
	expect(t, d, append(recs, timing.Records...), nil)
}

// writeWithin runs Write(ctx, b) and fails the test when it does not
// return within CancelWithin of the cancellation (of the call when
// cancelled is nil: ctx is already done).
func (s *suite) writeWithin(t *testing.T, ctx context.Context, sk sinks.Sink, b *record.Batch, cancelled <-chan time.Time) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- sk.Write(ctx, b) }()
	var deadline <-chan time.Time
	if cancelled == nil {
		deadline = time.After(s.h.CancelWithin)
	}
	for {
		select {
		case err := <-done:
			return err
		case at := <-cancelled:
			deadline = time.After(s.h.CancelWithin - time.Since(at))
			cancelled = nil
		case <-deadline:
			t.Errorf("Write did not return within %v of its context's cancellation", s.h.CancelWithin)
			// Wait for it anyway, so that the suite's goroutines end
			// with it, but not forever.
			select {
			case err := <-done:
				return err
			case <-time.After(s.h.WriteTimeout):
				t.Fatalf("Write still running %v after its context's cancellation", s.h.CancelWithin+s.h.WriteTimeout)
			}
		}
	}
}

// check: a sinks.Checker reports healthy, broken and misconfigured
// destinations, and writes nothing.
func (s *suite) check(t *testing.T) {
	d := s.open(t)
	c, ok := d.Sink.(sinks.Checker)
	if !ok {
		t.Skip("the sink does not implement sinks.Checker")
	}
	checkCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(t.Context(), 30*time.Second)
	}
	ctx, cancel := checkCtx()
	defer cancel()
	require.NoError(t, c.Check(ctx), "Check of a healthy destination")
	expect(t, d, nil, nil)

	if d.Break != nil {
		restore := d.Break(t)
		ctx, cancel := checkCtx()
		defer cancel()
		err := c.Check(ctx)
		restore()
		require.Error(t, err, "Check of a broken destination")
		ctx, cancel = checkCtx()
		defer cancel()
		require.NoError(t, c.Check(ctx), "Check once the destination is back")
	}
	if s.h.Misconfigured != nil {
		sk := s.h.Misconfigured(t)
		if mc, ok := sk.(sinks.Checker); ok {
			ctx, cancel := checkCtx()
			defer cancel()
			require.Error(t, mc.Check(ctx), "Check of a misconfigured destination")
		}
		require.NoError(t, sk.Close(t.Context()))
	}
}

// expect checks what d holds: every record of must exactly once, every
// record of may at most once, nothing else. Without Read it compares
// counts of records and bytes.
func expect(t *testing.T, d *dest, must, may []record.Record) {
	t.Helper()
	if d.Read == nil {
		n, size := d.Count(t)
		lo, hi := int64(len(must)), int64(len(must)+len(may))
		require.True(t, lo <= n && n <= hi, "the destination holds %d records, want %d to %d", n, lo, hi)
		blo := bytesOf(must)
		bhi := blo + bytesOf(may)
		require.True(t, blo <= size && size <= bhi, "the destination holds %d bytes, want %d to %d", size, blo, bhi)
		return
	}
	got := d.Read(t)
	// Records are matched by their bytes (less a line end), and only
	// those that match no record written by their JSON value (a
	// destination that re-encodes documents): canonical JSON is slow on
	// megabytes.
	raw := func(b []byte) string { return string(bytes.TrimRight(b, "\r\n")) }
	written := map[string]bool{}
	for _, recs := range [][]record.Record{must, may} {
		for i := range recs {
			written[raw(recs[i].Data)] = true
		}
	}
	where := map[string][]string{}
	gotKeys := make([]string, len(got))
	reencoded := false
	for i, g := range got {
		k := raw(g.Data)
		if !written[k] {
			k, reencoded = canon(g.Data), true
		}
		gotKeys[i] = k
		where[k] = append(where[k], g.Where)
	}
	seen := map[string]bool{}
	// found returns where r was found, by bytes or by value.
	found := func(r *record.Record) []string {
		k := raw(r.Data)
		seen[k] = true
		w := where[k]
		if reencoded {
			if c := canon(r.Data); c != k {
				seen[c] = true
				w = append(slices.Clip(w), where[c]...)
			}
		}
		return w
	}
	var problems []string
	note := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for i := range must {
		r := &must[i]
		switch w := found(r); {
		case len(w) == 0:
			note("missing: %s seq %d.%d: %.80q", r.Shard, r.Seq, r.Sub, r.Data)
		case len(w) > 1:
			note("%d copies of %s seq %d.%d, in %v", len(w), r.Shard, r.Seq, r.Sub, w)
		}
	}
	for i := range may {
		r := &may[i]
		if w := found(r); len(w) > 1 {
			note("%d copies of %s seq %d.%d, in %v", len(w), r.Shard, r.Seq, r.Sub, w)
		}
	}
	for i, g := range got {
		if !seen[gotKeys[i]] {
			note("unexpected record in %s: %.80q", g.Where, g.Data)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("the destination holds %d records, want %d (+%d at most once):\n  %s",
			len(got), len(must), len(may), strings.Join(problems, "\n  "))
	}
}

func bytesOf(recs []record.Record) int64 {
	var n int64
	for i := range recs {
		n += int64(len(recs[i].Data))
	}
	return n
}
