package httpendpoint_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest"
	"github.com/hydrant-io/hydrant/sinks/httpendpoint"
	"github.com/hydrant-io/hydrant/streams/record"
)

// BenchmarkHydrantToHydrant sends 1 KiB records with the sink to
// Hydrant's own receiver door (an in-process ingest.Server over loopback
// HTTP, its stream in memory: the doors and the protocol, not the disk),
// in 5 MiB flushes, plain and gzip. MiB/s counts record data.
//
//	go test -run '^$' -bench HydrantToHydrant ./sinks/httpendpoint/
func BenchmarkHydrantToHydrant(b *testing.B) {
	for _, enc := range []string{"none", "gzip"} {
		b.Run("encoding="+enc, func(b *testing.B) {
			streams := &memStreams{recs: map[string][]record.Record{"events": nil}}
			srv, err := ingest.New(ingest.Options{Streams: streams, Limits: ingest.Limits{MaxRequestBytes: 16 << 20}})
			require.NoError(b, err)
			hs := httptest.NewServer(srv.Handler())
			b.Cleanup(hs.Close)
			s, err := httpendpoint.New(httpendpoint.Config{URL: hs.URL + "/v1/firehose-endpoint/events", ContentEncoding: enc, MaxBodyBytes: 8 << 20})
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close(b.Context()) })
			const n = 5 << 10 // 5 MiB of 1 KiB records
			pad := strings.Repeat("x", 990)
			batch := &record.Batch{Pipeline: "bench", Destination: "partner", Shard: "s"}
			for i := range n {
				batch.Records = append(batch.Records, record.Record{Seq: uint64(i), Data: fmt.Appendf(nil, `{"i":%06d,"p":"%s"}`, i, pad)})
			}
			b.ResetTimer()
			for it := range b.N {
				batch.First, batch.Last = uint64(it*n), uint64(it*n+n-1)
				require.NoError(b, s.Write(b.Context(), batch))
				streams.reset()
			}
			b.ReportMetric(float64(b.N)*5/b.Elapsed().Seconds(), "MiB/s")
		})
	}
}

// reset forgets what was appended, so that a long benchmark holds one
// flush at a time.
func (m *memStreams) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.recs {
		m.recs[k] = m.recs[k][:0]
	}
}
