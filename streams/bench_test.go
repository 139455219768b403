package streams

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
)

// BenchmarkStreamAppend measures durable appends (real fsync) of 1 KiB
// records, 500 per Append, from 32 concurrent appenders. One op is one
// Append call. The data directory is under /work (a real disk) when it
// exists, as tmpfs would make fsync free.
func BenchmarkStreamAppend(b *testing.B) {
	for _, shards := range []int{1, 4} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			base := ""
			if _, err := os.Stat("/work"); err == nil {
				base = "/work"
			}
			dir, err := os.MkdirTemp(base, "hydrant-bench-")
			require.NoError(b, err)
			b.Cleanup(func() { _ = os.RemoveAll(dir) })
			s, err := Open(b.Context(), Options{Dir: dir, Name: "bench", Shards: shards})
			require.NoError(b, err)
			defer func() { require.NoError(b, s.Close()) }()

			const appenders, per, size = 32, 500, 1024
			payload := make([]byte, size)
			work := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, appenders)
			for a := range appenders {
				wg.Go(func() {
					batch := make([]record.Record, per)
					keys := make([]string, per)
					for i := range keys {
						keys[i] = keyN(a*per + i)
					}
					for range work {
						for i := range batch {
							batch[i] = record.Record{Key: keys[i], Data: payload}
						}
						if err := s.Append(b.Context(), batch); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			b.SetBytes(per * size)
			start := time.Now()
			for b.Loop() {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(b, err)
			}
			// Measured by hand so that the appends still running when
			// b.Loop returns are counted.
			sec := time.Since(start).Seconds()
			st := s.Stats()
			b.ReportMetric(float64(st.AppendedRecords)/sec, "records/s")
			b.ReportMetric(float64(st.AppendedBytes)/sec/(1<<20), "MiB/s")
			b.ReportMetric(float64(st.Syncs)/float64(b.N), "fsyncs/op")
		})
	}
}
