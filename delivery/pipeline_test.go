package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/delivery/memstream"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// fakeSink records delivered batches; fail decides, per call, what to return.
type fakeSink struct {
	mu      sync.Mutex
	batches []record.Batch
	calls   int
	fail    func(call int, b *record.Batch) error
	block   chan struct{} // when set, Write waits for it (or ctx)
}

func (s *fakeSink) Write(ctx context.Context, b *record.Batch) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(s.calls, b); err != nil {
			var be *sinks.BatchError
			if errors.As(err, &be) {
				kept := *b
				kept.Records = nil
				for i, r := range b.Records {
					if _, failed := be.Failed[i]; !failed {
						kept.Records = append(kept.Records, r)
					}
				}
				s.batches = append(s.batches, kept)
			}
			return err
		}
	}
	c := *b
	c.Records = append([]record.Record(nil), b.Records...)
	s.batches = append(s.batches, c)
	return nil
}

func (s *fakeSink) Close(context.Context) error { return nil }

func (s *fakeSink) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.batches {
		for _, r := range b.Records {
			out = append(out, string(r.Data))
		}
	}
	sort.Strings(out)
	return out
}

// fakeBackup records failed records by error type.
type fakeBackup struct {
	mu     sync.Mutex
	failed map[string][]sinks.Failed
	source []record.Record
	fail   func() error
}

func (b *fakeBackup) WriteFailed(_ context.Context, errorType string, f []sinks.Failed) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		if err := b.fail(); err != nil {
			return err
		}
	}
	if b.failed == nil {
		b.failed = map[string][]sinks.Failed{}
	}
	b.failed[errorType] = append(b.failed[errorType], f...)
	return nil
}

func (b *fakeBackup) WriteSource(_ context.Context, batch *record.Batch) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.source = append(b.source, batch.Records...)
	return nil
}

func (b *fakeBackup) data(errorType string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, f := range b.failed[errorType] {
		out = append(out, string(f.Record.Data))
	}
	sort.Strings(out)
	return out
}

// testStream is a stream the runtime reads, on either backend, with what
// the tests need to feed and inspect it.
type testStream struct {
	delivery.Stream
	append func(ctx context.Context, recs []record.Record) error
	end    func(id record.ShardID) uint64 // the next sequence number appended
	split  func(t *testing.T, id record.ShardID)
	// leases are the backend's (JetStream); nil elsewhere.
	leases delivery.Leaser
	// first is the sequence number of the first record appendN stored per
	// shard (0 on the memory and local logs; sparse on JetStream).
	first map[record.ShardID]uint64
}

func (s *testStream) Append(ctx context.Context, recs []record.Record) error {
	return s.append(ctx, recs)
}

func (s *testStream) checkpoint(id record.ShardID) uint64 {
	next, err := s.Checkpoint(context.Background(), "d", id)
	if err != nil {
		panic(err)
	}
	return next
}

// eachStream runs a runtime test on the in-memory stream and on the real
// log; openStream picks the backend from the subtest's name. The in-memory
// run is a synctest bubble: its clock is fake and moves only when every
// goroutine waits, so back-offs, buffer intervals and polling cost no real
// time and the test observes the runtime, not the machine's speed.
func eachStream(t *testing.T, test func(t *testing.T)) {
	t.Run("memory", func(t *testing.T) { synctest.Test(t, test) })
	t.Run("log", test)
	t.Run("jetstream", test)
}

func openStream(t *testing.T, shards int) *testStream {
	t.Helper()
	if strings.HasSuffix(t.Name(), "/memory") {
		m := memstream.New(shards)
		return &testStream{
			Stream: m,
			append: func(_ context.Context, recs []record.Record) error { m.Append(recs...); return nil },
			end:    m.Len,
			split:  func(_ *testing.T, id record.ShardID) { m.Split(id) },
		}
	}
	if strings.HasSuffix(t.Name(), "/jetstream") {
		return openJetStream(t, shards)
	}
	s, err := streams.Open(t.Context(), streams.Options{Dir: t.TempDir(), Name: "p", Shards: shards, Consumers: []string{"d"}, NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return &testStream{
		Stream: delivery.Local(s),
		append: s.Append,
		end: func(id record.ShardID) uint64 {
			for _, sh := range s.Shards() {
				if sh.ID == id {
					return sh.NextSeq
				}
			}
			return 0
		},
		split: func(t *testing.T, id record.ShardID) {
			mid, ok := new(big.Int).SetString("170141183460469231731687303715884105728", 10)
			require.True(t, ok)
			require.NoError(t, s.Split(t.Context(), id, mid))
		},
	}
}

func appendN(t *testing.T, s *testStream, from, n int) []string {
	t.Helper()
	recs := make([]record.Record, n)
	want := make([]string, n)
	for i := range recs {
		want[i] = fmt.Sprintf("r%06d", from+i)
		recs[i] = record.Record{Data: []byte(want[i])}
	}
	require.NoError(t, s.Append(t.Context(), recs))
	if s.first == nil {
		s.first = map[record.ShardID]uint64{}
	}
	for _, r := range recs {
		if f, ok := s.first[r.Shard]; !ok || r.Seq < f {
			s.first[r.Shard] = r.Seq
		}
	}
	sort.Strings(want)
	return want
}

// runPipeline starts Run and returns a stop function that cancels and waits.
func runPipeline(t *testing.T, opts delivery.Options) (*delivery.Pipeline, func()) {
	t.Helper()
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	opts.Name = "p"
	if ts, ok := opts.Stream.(*testStream); ok && opts.Leases == nil {
		opts.Leases = ts.leases
	}
	p, err := delivery.New(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return p, stop
}

// eventually polls cond; it fails after a generous limit so a bug cannot
// hang the suite. It asserts nothing about speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func committedAll(s *testStream) bool {
	for _, id := range s.Shards() {
		if s.checkpoint(id) != s.end(id) {
			return false
		}
	}
	return true
}

func TestDelivery_DeliversEveryRecordAndCommits(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 3)
		want := appendN(t, s, 0, 1000)
		sink := &fakeSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 1000, Interval: 5 * time.Millisecond},
		}}})
		more := appendN(t, s, 1000, 500)
		want = append(want, more...)
		sort.Strings(want)
		eventually(t, "all committed", func() bool { return committedAll(s) && len(sink.delivered()) >= len(want) })
		stop()
		require.Equal(t, want, sink.delivered())
		for _, b := range sink.batches {
			require.LessOrEqual(t, b.First, b.Last)
			require.Equal(t, b.Last, b.Records[len(b.Records)-1].Seq, "a batch's range ends at its last record")
		}
	})
}

func TestDelivery_RetriesThenBacksUpAfterRetryWindow(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		want := appendN(t, s, 0, 20)
		sink := &fakeSink{fail: func(int, *record.Batch) error { return errors.New("bucket unreachable") }}
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", ErrorType: "s3-failed", Sink: sink, Backup: bk, Retry: 20 * time.Millisecond,
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Equal(t, want, bk.data("s3-failed"))
		require.Greater(t, sink.calls, 1, "retried before giving up")
		f := bk.failed["s3-failed"][0]
		require.Equal(t, "S3.Failed", f.Code)
		require.Equal(t, "bucket unreachable", f.Message)
	})
}

func TestDelivery_PermanentErrorGoesToBackupAtOnce(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		want := appendN(t, s, 0, 10)
		sink := &fakeSink{fail: func(int, *record.Batch) error { return sinks.Permanent(errors.New("access denied")) }}
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", ErrorType: "s3-failed", Sink: sink, Backup: bk, Retry: time.Hour,
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Equal(t, want, bk.data("s3-failed"))
		require.Equal(t, 1, sink.calls, "a permanent error is not retried")
	})
}

func TestDelivery_BatchErrorRetriesOnlyTheFailedRecords(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		want := appendN(t, s, 0, 10)
		sink := &fakeSink{fail: func(call int, b *record.Batch) error {
			if call == 1 {
				return &sinks.BatchError{Failed: map[int]error{0: errors.New("throttled"), 3: errors.New("throttled")}}
			}
			return nil
		}}
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: bk, Retry: time.Hour, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Equal(t, want, sink.delivered(), "each record delivered exactly once")
		require.Len(t, sink.batches[1].Records, 2, "the retry carries only the failed records")
		require.Empty(t, bk.failed)
	})
}

func TestDelivery_BackupFailureHoldsTheCheckpoint(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		recs := []record.Record{{Data: []byte("a")}, {Data: []byte("b")}, {Data: []byte("c")}, {Data: []byte("d")}, {Data: []byte("e")}}
		require.NoError(t, s.Append(t.Context(), recs))
		sink := &fakeSink{fail: func(int, *record.Batch) error { return sinks.Permanent(errors.New("bad")) }}
		release := make(chan struct{})
		attempts := make(chan struct{}, 100)
		bk := &fakeBackup{}
		bk.fail = func() error {
			select {
			case <-release:
				return nil
			default:
				attempts <- struct{}{}
				return errors.New("backup bucket down")
			}
		}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: bk, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		<-attempts
		<-attempts // two failed backup attempts: the worker is retrying
		// Nothing below the first record is left to resolve (a backend may
		// commit up to it), nothing past it while its backup fails.
		require.LessOrEqual(t, s.checkpoint(s.Shards()[0]), recs[0].Seq, "no commit while the backup fails")
		close(release)
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Len(t, bk.data("s3-failed"), 0, "error type comes from the destination; empty here")
		require.Len(t, bk.failed[""], 5)
	})
}

// procFunc adapts a function to transform.Processor for these tests.
type procFunc func(in []record.Record) []transform.Result

func (f procFunc) Process(_ context.Context, in []record.Record) ([]transform.Result, error) {
	return f(in), nil
}
func (procFunc) Close(context.Context) error { return nil }

// scriptedProcessor fails records whose data ends in 1, drops those ending
// in 2 and passes the rest through.
var scriptedProcessor = procFunc(func(in []record.Record) []transform.Result {
	out := make([]transform.Result, len(in))
	for i, r := range in {
		switch r.Data[len(r.Data)-1] {
		case '1':
			out[i] = transform.Result{Status: transform.Failed, Err: errors.New("bad record")}
		case '2':
			out[i] = transform.Result{Status: transform.Dropped}
		default:
			out[i] = transform.Result{Status: transform.Ok, Out: []record.Record{r}}
		}
	}
	return out
})

func TestDelivery_ProcessorResultsRouteRecords(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 2)
		all := appendN(t, s, 0, 100)
		sink := &fakeSink{}
		bk := &fakeBackup{}
		p, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: bk, Processors: []transform.Processor{scriptedProcessor},
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		var ok, failed []string
		for _, d := range all {
			switch d[len(d)-1] {
			case '1':
				failed = append(failed, d)
			case '2':
			default:
				ok = append(ok, d)
			}
		}
		require.Equal(t, ok, sink.delivered())
		require.Equal(t, failed, bk.data(record.ProcessingFailed))
		snap := p.Stats("d").Snapshot()
		require.Equal(t, int64(10), snap.DroppedRecords)
		require.Equal(t, int64(10), snap.BackedUpRecords[record.ProcessingFailed])
		require.Equal(t, int64(len(ok)), snap.DeliveredRecords)
	})
}

// failingProcessor fails every call as a whole.
type failingProcessor struct{ calls int }

func (f *failingProcessor) Process(context.Context, []record.Record) ([]transform.Result, error) {
	f.calls++
	return nil, errors.New("trap")
}
func (f *failingProcessor) Close(context.Context) error { return nil }

func TestDelivery_ProcessorCallFailureRetriesThenBacksUp(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		want := appendN(t, s, 0, 7)
		proc := &failingProcessor{}
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, ProcessorRetries: 2, Destinations: []*delivery.Destination{{
			Name: "d", Sink: &fakeSink{}, Backup: bk, Processors: []transform.Processor{proc},
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Equal(t, 3, proc.calls, "one call and two retries")
		require.Equal(t, want, bk.data(record.ProcessingFailed))
	})
}

func TestDelivery_CancelDrainsBufferedRecords(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 2)
		want := appendN(t, s, 0, 50)
		sink := &fakeSink{}
		p, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Hour},
		}}})
		eventually(t, "records buffered", func() bool { return p.Stats("d").Freshness(time.Now()) > 0 })
		stop()
		require.Equal(t, want, sink.delivered())
		require.True(t, committedAll(s))
	})
}

func TestDelivery_HardStopLeavesBatchUncommitted(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		appendN(t, s, 0, 5)
		sink := &fakeSink{block: make(chan struct{})} // never released: the sink hangs
		p, stop := runPipeline(t, delivery.Options{Stream: s, DrainTimeout: 10 * time.Millisecond, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Hour},
		}}})
		eventually(t, "records buffered", func() bool { return p.Stats("d").Freshness(time.Now()) > 0 })
		stop()
		sh := s.Shards()[0]
		require.LessOrEqual(t, s.checkpoint(sh), s.first[sh], "an undelivered batch is never committed")
	})
}

func TestDelivery_NewShardsAfterSplitAreRead(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		want := appendN(t, s, 0, 100)
		sink := &fakeSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		s.split(t, s.Shards()[0])
		want = append(want, appendN(t, s, 100, 100)...)
		sort.Strings(want)
		eventually(t, "all delivered", func() bool { return len(sink.delivered()) == len(want) && committedAll(s) })
		stop()
		require.Equal(t, want, sink.delivered())
	})
}

func TestDelivery_RecordErrorsBackUpUnderTheirOwnErrorType(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		appendN(t, s, 0, 4)
		sink := &fakeSink{fail: func(call int, b *record.Batch) error {
			if call > 1 {
				return nil
			}
			return &sinks.BatchError{Failed: map[int]error{
				1: sinks.Permanent(record.WithErrorType(errors.New("no key"), "partition-key-failed")),
				2: errors.New("slow down"),
			}}
		}}
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", ErrorType: "s3-failed", Sink: sink, Backup: bk, Retry: time.Hour,
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Equal(t, []string{"r000001"}, bk.data("partition-key-failed"))
		require.Equal(t, "Partition.Key.Failed", bk.failed["partition-key-failed"][0].Code)
		require.Empty(t, bk.data("s3-failed"), "the retryable record was retried and delivered")
		require.Equal(t, []string{"r000000", "r000002", "r000003"}, sink.delivered())
	})
}

// upper upper-cases each record: a transforming processor.
var upper = procFunc(func(in []record.Record) []transform.Result {
	out := make([]transform.Result, len(in))
	for i, r := range in {
		r.Data = []byte(strings.ToUpper(string(r.Data)))
		out[i] = transform.Result{Status: transform.Ok, Out: []record.Record{r}}
	}
	return out
})

func TestDelivery_ProcessingFailedKeepsTheRawSourceData(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		appendN(t, s, 0, 3)
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: &fakeSink{}, Backup: bk, Processors: []transform.Processor{upper, scriptedProcessor},
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Equal(t, []string{"r000001"}, bk.data(record.ProcessingFailed), "raw data, not the upper-cased output")
	})
}

// partSink is a fakeSink that partitions by the record's Meta["k"], failing
// records without one as partition-key-failed.
type partSink struct{ fakeSink }

func (p *partSink) Partition(r *record.Record) (string, error) {
	k, ok := r.Meta["k"]
	if !ok {
		return "", sinks.Permanent(record.WithErrorType(errors.New("no k"), record.PartitionKeyFailed))
	}
	return k, nil
}

func appendKeyed(t *testing.T, s *testStream, keys ...string) {
	t.Helper()
	recs := make([]record.Record, len(keys))
	for i, k := range keys {
		recs[i] = record.Record{Data: []byte(fmt.Sprintf("%s-%d", k, i))}
		if k != "" {
			recs[i].Meta = map[string]string{"k": k}
		}
	}
	require.NoError(t, s.Append(t.Context(), recs))
}

func TestDelivery_OneBufferPerPartition(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		appendKeyed(t, s, "a", "b", "a", "c", "b", "a", "")
		sink := &partSink{}
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: bk, Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: 5 * time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		byPart := map[string][]string{}
		for _, b := range sink.batches {
			k := b.Records[0].Meta["k"]
			for _, r := range b.Records {
				require.Equal(t, k, r.Meta["k"], "a flushed batch holds one partition")
				byPart[k] = append(byPart[k], string(r.Data))
			}
			require.Equal(t, b.First, b.Records[0].Seq)
			require.Equal(t, b.Last, b.Records[len(b.Records)-1].Seq)
		}
		require.Equal(t, map[string][]string{"a": {"a-0", "a-2", "a-5"}, "b": {"b-1", "b-4"}, "c": {"c-3"}}, byPart)
		require.Equal(t, []string{"-6"}, bk.data(record.PartitionKeyFailed))
	})
}

func TestDelivery_ActivePartitionCapSendsOverflowToBackup(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		appendKeyed(t, s, "a", "b", "c", "a", "c")
		sink := &partSink{}
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: bk, MaxPartitions: 2,
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Hour},
		}}})
		eventually(t, "overflow backed up", func() bool { return len(bk.data(record.ActivePartitionExceeded)) == 2 })
		stop() // drain flushes the two open partitions
		require.Equal(t, []string{"c-2", "c-4"}, bk.data(record.ActivePartitionExceeded))
		require.Equal(t, []string{"a-0", "a-3", "b-1"}, sink.delivered())
		require.True(t, committedAll(s))
	})
}

func TestDelivery_BufferedBytesCapFlushesTheBiggestPartitionEarly(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		rec := func(k string, i int) record.Record {
			return record.Record{Data: fmt.Appendf(nil, "%s-%d-%s", k, i, strings.Repeat("x", 3000)), Meta: map[string]string{"k": k}}
		}
		// About 9 KB for a, 3 KB for b: over a 10,000-byte cap (partitions are
		// charged for their slabs), and no partition full by its own policy.
		require.NoError(t, s.Append(t.Context(), []record.Record{rec("a", 0), rec("a", 1), rec("b", 2), rec("a", 3)}))
		sink := &partSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, MaxBufferedBytes: 10000,
			Policy: buffer.Policy{MaxBytes: 10000, Interval: time.Hour},
		}}})
		eventually(t, "an early flush", func() bool { return len(sink.delivered()) > 0 })
		stop()
		first := sink.batches[0].Records
		require.Len(t, first, 3, "the biggest partition went first")
		for _, r := range first {
			require.Equal(t, "a", r.Meta["k"])
		}
	})
}

func sortedData(recs []record.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Data))
	}
	sort.Strings(out)
	return out
}

func TestDelivery_BackupModeAllWritesEverySourceRecordBeforeProcessing(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		want := appendN(t, s, 0, 20)
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: &fakeSink{}, Backup: bk, BackupAll: true, Processors: []transform.Processor{upper},
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		got := sortedData(bk.source)
		require.Equal(t, want, got, "every record, as read (not upper-cased)")
	})
}

// triple splits every record into three sub-records ending in '1', as a
// deaggregation that a later processor then fails.
var triple = procFunc(func(in []record.Record) []transform.Result {
	out := make([]transform.Result, len(in))
	for i, r := range in {
		res := transform.Result{Status: transform.Ok}
		for j := range 3 {
			sub := r
			sub.Data = fmt.Appendf(nil, "sub%d-1", j)
			res.Out = append(res.Out, sub)
		}
		out[i] = res
	}
	return out
})

func TestDelivery_FailedSubRecordsBackUpTheirSourceOnce(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		want := appendN(t, s, 0, 4)
		bk := &fakeBackup{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: &fakeSink{}, Backup: bk, Processors: []transform.Processor{triple, scriptedProcessor},
			Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Millisecond},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		require.Equal(t, want, bk.data(record.ProcessingFailed), "each source record once, as read")
	})
}

func TestDelivery_AQuietPartitionDoesNotHoldTheCheckpointForItsInterval(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		keys := []string{"rare"}
		for range 200 {
			keys = append(keys, "busy")
		}
		appendKeyed(t, s, keys...) // about 1.4 KB of busy records behind the rare one
		sink := &partSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, ReadBytes: 64, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, MaxBufferedBytes: 100, // lag limit 400 bytes
			Policy: buffer.Policy{MaxBytes: 100, Interval: time.Hour},
		}}})
		eventually(t, "the rare partition flushed long before its interval", func() bool {
			for _, d := range sink.delivered() {
				if strings.HasPrefix(d, "rare") {
					return true
				}
			}
			return false
		})
		stop()
	})
}

func TestDelivery_BatchIdentityNamesSubRecords(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		appendN(t, s, 0, 4)
		sink := &fakeSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Processors: []transform.Processor{triple},
			// 6-byte sub-records, two per batch: batches end inside a source record.
			Policy: buffer.Policy{MaxBytes: 12, Interval: time.Hour},
		}}})
		eventually(t, "committed", func() bool { return committedAll(s) })
		stop()
		seen := map[record.Position]bool{}
		ids := map[string]bool{}
		for _, b := range sink.batches {
			id := b.ID()
			require.Equal(t, b.Records[0].Pos(), id.First)
			require.Equal(t, b.Records[len(b.Records)-1].Pos(), id.Last)
			require.False(t, ids[id.String()], "every batch has its own identity")
			ids[id.String()] = true
			for _, r := range b.Records {
				require.False(t, seen[r.Pos()], "positions are unique")
				seen[r.Pos()] = true
				require.Less(t, r.Sub, uint32(3))
			}
		}
		require.Len(t, seen, 12, "4 records, 3 sub-records each")
	})
}

func TestDelivery_ARecordBiggerThanTheBufferIsABatchOfItsOwn(t *testing.T) {
	eachStream(t, func(t *testing.T) {
		s := openStream(t, 1)
		var recs []record.Record
		for _, n := range []int{3, 50, 3} {
			recs = append(recs, record.Record{Data: []byte(strings.Repeat("x", n))})
		}
		require.NoError(t, s.Append(t.Context(), recs))
		sink := &fakeSink{}
		_, stop := runPipeline(t, delivery.Options{Stream: s, Destinations: []*delivery.Destination{{
			Name: "d", Sink: sink, Backup: &fakeBackup{}, Policy: buffer.Policy{MaxBytes: 10, Interval: time.Hour},
		}}})
		eventually(t, "the big record delivered", func() bool { return len(sink.delivered()) >= 2 })
		stop()
		var got [][]int
		for _, b := range sink.batches {
			var sizes []int
			for _, r := range b.Records {
				sizes = append(sizes, len(r.Data))
			}
			got = append(got, sizes)
			require.Equal(t, b.First, b.Records[0].Seq)
			require.Equal(t, b.Last, b.Records[len(b.Records)-1].Seq)
		}
		require.Equal(t, [][]int{{3}, {50}, {3}}, got, "the batch before it, it alone, then the rest at drain")
		require.True(t, committedAll(s))
	})
}
