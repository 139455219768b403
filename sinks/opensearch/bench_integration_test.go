//go:build integration

package opensearch_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/opensearch"
	"github.com/hydrant-io/hydrant/sinks/opensearch/searchtest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// BenchmarkBulk indexes 1 KiB documents into the test search server with
// bulk requests of 1, 5 and 15 MiB, and reports documents/s and the share
// of one core this process (the sink) used meanwhile: the rest of the time
// is the server's.
//
//	go test -tags integration -run '^$' -bench Bulk -benchtime 3x ./sinks/opensearch/
func BenchmarkBulk(b *testing.B) {
	srv := searchtest.Find(b)
	for _, size := range []int{1, 5, 15} {
		b.Run(fmt.Sprintf("bulk=%dMiB", size), func(b *testing.B) {
			c, err := opensearch.NewClient(opensearch.ClientConfig{Addresses: []string{srv.Base.String()},
				Username: srv.Username, Password: srv.Password})
			require.NoError(b, err)
			b.Cleanup(func() { _ = c.Close() })
			s, err := opensearch.New(c, opensearch.Config{Index: freshIndex(), DocumentID: ".id", MaxBulkBytes: size << 20})
			require.NoError(b, err)
			const n = 20_000 // per Write: 20 MiB, so every bulk size fills its requests
			pad := strings.Repeat("x", 960)
			batch := &record.Batch{Pipeline: "bench", Destination: "search", Shard: "s"}
			next := 0
			cpu0, wall0 := cpuTime(), time.Now()
			b.ResetTimer()
			for b.Loop() {
				batch.Records = batch.Records[:0]
				for range n {
					batch.Records = append(batch.Records, record.Record{Data: fmt.Appendf(nil, `{"id":%d,"customer":"c%d","pad":"%s"}`, next, next%1000, pad)})
					next++
				}
				require.NoError(b, s.Write(b.Context(), batch))
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*n)/secs, "docs/s")
			b.ReportMetric(float64(b.N*n)*1024/secs/(1<<20), "MiB/s")
			b.ReportMetric(100*(cpuTime()-cpu0).Seconds()/time.Since(wall0).Seconds(), "sink-cpu-%")
		})
	}
}

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
