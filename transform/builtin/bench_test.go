package builtin

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

const benchBatch = 500

// benchRun processes in once per iteration and reports input records/s,
// output records/s and input bytes/s.
func benchRun(b *testing.B, p transform.Processor, in []record.Record) {
	b.Helper()
	var bytesIn int64
	for i := range in {
		bytesIn += int64(len(in[i].Data))
	}
	res, err := p.Process(context.Background(), in)
	require.NoError(b, err)
	outN := 0
	for _, r := range res {
		require.Equal(b, transform.Ok, r.Status, "%v", r.Err)
		outN += len(r.Out)
	}
	b.SetBytes(bytesIn)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Process(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(in))/secs, "records/s")
	b.ReportMetric(float64(b.N*outN)/secs, "out-records/s")
}

// jsonEvent is a ~1 KiB JSON record with a few fields worth partitioning on.
func jsonEvent(i int) []byte {
	return fmt.Appendf(nil, `{"customer_id":"cust-%04d","ts":%d,"event":{"type":"click","n":%d},"pad":%q}`,
		i%100, 1_700_000_000+i, i, strings.Repeat("p", 900))
}

func BenchmarkJQMetadata(b *testing.B) {
	p, err := NewJQMetadata(map[string]string{
		"customer_id": ".customer_id",
		"type":        ".event.type",
		"year":        `.ts | strftime("%Y")`,
	})
	require.NoError(b, err)
	data := make([][]byte, benchBatch)
	for i := range data {
		data[i] = jsonEvent(i)
	}
	benchRun(b, p, mkRecords(data...))
}

// BenchmarkJQMetadataPlainPaths is the common MetadataExtraction query:
// plain field paths, served by the scanning fast path.
func BenchmarkJQMetadataPlainPaths(b *testing.B) {
	p, err := NewJQMetadata(map[string]string{"customer_id": ".customer_id", "type": ".event.type"})
	require.NoError(b, err)
	data := make([][]byte, benchBatch)
	for i := range data {
		data[i] = jsonEvent(i)
	}
	benchRun(b, p, mkRecords(data...))
}

func BenchmarkDeaggregateKPL(b *testing.B) {
	// 100 sub-records of ~100 bytes over 10 partition keys: a typical KPL aggregate.
	pks := make([]string, 10)
	for i := range pks {
		pks[i] = fmt.Sprintf("partition-key-%02d", i)
	}
	subs := make([]kplSub, 100)
	for i := range subs {
		subs[i] = kplSub{pk: uint64(i % 10), data: fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("x", 80))}
	}
	agg := kplWrap(kplBody(pks, nil, subs))
	d, err := NewDeaggregate(DeaggregateOptions{})
	require.NoError(b, err)
	data := make([][]byte, 50)
	for i := range data {
		data[i] = agg
	}
	benchRun(b, d, mkRecords(data...))
}

func BenchmarkDeaggregateJSON(b *testing.B) {
	var sb strings.Builder
	for i := range 100 {
		fmt.Fprintf(&sb, "{\"n\":%d,\"s\":\"a } in a string\",\"pad\":%q}\n", i, strings.Repeat("x", 60))
	}
	d, err := NewDeaggregate(DeaggregateOptions{Mode: ModeJSON})
	require.NoError(b, err)
	data := make([][]byte, 50)
	for i := range data {
		data[i] = []byte(sb.String())
	}
	benchRun(b, d, mkRecords(data...))
}

func BenchmarkDeaggregateDelimited(b *testing.B) {
	blob := strings.Repeat(strings.Repeat("y", 100)+"####", 100)
	d, err := NewDeaggregate(DeaggregateOptions{Mode: ModeDelimited, Delimiter: "####"})
	require.NoError(b, err)
	data := make([][]byte, 50)
	for i := range data {
		data[i] = []byte(blob)
	}
	benchRun(b, d, mkRecords(data...))
}

func BenchmarkDecompress(b *testing.B) {
	// A CloudWatch Logs subscription payload: 50 log events, gzip'd.
	var sb strings.Builder
	sb.WriteString(`{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"s","subscriptionFilters":["f"],"logEvents":[`)
	for i := range 50 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"%036d","timestamp":%d,"message":"GET /api/v1/items/%d 200 %dms user=%d"}`, i, 1_700_000_000_000+i, i*7, i%50, i%13)
	}
	sb.WriteString("]}")
	payload := gz(b, sb.String())
	p := NewDecompress(DecompressOptions{})
	data := make([][]byte, 100)
	for i := range data {
		data[i] = payload
	}
	benchRun(b, p, mkRecords(data...))
	b.ReportMetric(float64(sb.Len())/float64(len(payload)), "ratio")
	b.ReportMetric(float64(b.N*len(data)*sb.Len())/b.Elapsed().Seconds()/1e6, "out-MB/s")
}
