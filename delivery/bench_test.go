package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// genStream is one shard that yields total records of a fixed payload in
// chunks, then ends, so a benchmark measures the worker rather than a
// stream backend.
type genStream struct {
	total   uint64
	chunk   []record.Record
	done    chan struct{} // closed when everything is committed
	changed chan struct{}
}

const genShard = record.ShardID("shardId-000000000000")

func newGenStream(total, size int) *genStream {
	const perChunk = 1 << 20
	n := max(perChunk/size, 1)
	data := make([]byte, size)
	for i := range data {
		data[i] = 'x'
	}
	chunk := make([]record.Record, n)
	for i := range chunk {
		chunk[i] = record.Record{Data: data, Shard: genShard, Arrived: time.Now()}
	}
	return &genStream{total: uint64(total), chunk: chunk, done: make(chan struct{}), changed: make(chan struct{})}
}

func (g *genStream) Shards() []record.ShardID       { return []record.ShardID{genShard} }
func (g *genStream) ShardsChanged() <-chan struct{} { return g.changed }
func (g *genStream) Checkpoint(context.Context, string, record.ShardID) (uint64, error) {
	return 0, nil
}

func (g *genStream) Commit(_ context.Context, _ string, _ record.ShardID, next uint64) error {
	if next == g.total {
		close(g.done)
	}
	return nil
}

func (g *genStream) NewReader(record.ShardID, uint64) (delivery.Reader, error) {
	return &genReader{g: g}, nil
}

type genReader struct {
	g   *genStream
	pos uint64
}

func (r *genReader) Next(context.Context, int) ([]record.Record, error) {
	left := r.g.total - r.pos
	if left == 0 {
		return nil, record.ErrShardEnded
	}
	out := r.g.chunk[:min(uint64(len(r.g.chunk)), left)]
	for i := range out {
		out[i].Seq = r.pos
		r.pos++
	}
	return out, nil
}

func (r *genReader) Close() error { return nil }

// discardSink accepts every batch; with keys it partitions by Seq.
type discardSink struct{}

func (discardSink) Write(context.Context, *record.Batch) error { return nil }
func (discardSink) Close(context.Context) error                { return nil }

type keyedDiscardSink struct {
	discardSink
	keys []string
}

func (s keyedDiscardSink) Partition(r *record.Record) (string, error) {
	return s.keys[r.Seq%uint64(len(s.keys))], nil
}

// BenchmarkWorker runs one worker over a generated shard, with a single
// partition and with many, to measure the buffering on the hot path.
func BenchmarkWorker(b *testing.B) {
	const records, size = 200_000, 200
	for _, parts := range []int{0, 100} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			var sink sinks.Sink = discardSink{}
			if parts > 0 {
				keys := make([]string, parts)
				for i := range keys {
					keys[i] = fmt.Sprintf("k%03d", i)
				}
				sink = keyedDiscardSink{keys: keys}
			}
			b.ReportAllocs()
			for b.Loop() {
				g := newGenStream(records, size)
				p, err := delivery.New(delivery.Options{Name: "p", Stream: g, Destinations: []*delivery.Destination{{
					Name: "d", Sink: sink, Backup: &fakeBackup{},
					Policy: buffer.Policy{MaxBytes: 1 << 20, Interval: time.Hour},
				}}})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(b.Context())
				ran := make(chan error, 1)
				go func() { ran <- p.Run(ctx) }()
				<-g.done
				cancel()
				if err := <-ran; err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N) * records
			b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(n*size/b.Elapsed().Seconds()/(1<<20), "MiB/s")
		})
	}
}
