package jetstream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hydrant-io/hydrant/streams/jetstream/jstest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// BenchmarkAppend appends requests of 500 records of 1 KiB with random
// keys from 16 goroutines, on one embedded server (R1) and on an embedded
// 3-node cluster (R3). Everything runs in this process, on the same cores.
//
//	go test -run '^$' -bench Append -benchtime 20000x ./streams/jetstream/
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			c := jstest.Start(b, n)
			bk, err := Connect(context.Background(), Options{URLs: c.URLs(), Node: "bench", Replicas: n})
			if err != nil {
				b.Fatal(err)
			}
			defer bk.Close()
			s, err := bk.OpenStream(context.Background(), StreamOptions{Name: fmt.Sprintf("bench%d", n), Shards: 4})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const perRequest, size, workers = 500, 1024, 16
			data := make([]byte, size)
			var mu sync.Mutex
			left, sent := b.N, 0
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					recs := make([]record.Record, perRequest)
					for {
						mu.Lock()
						if left <= 0 {
							mu.Unlock()
							return
						}
						left -= perRequest
						sent += perRequest
						mu.Unlock()
						for i := range recs {
							recs[i] = record.Record{Key: fmt.Sprintf("k%d-%d", w, i), Data: data}
						}
						if err := s.Append(context.Background(), recs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(sent)/el, "records/s")
			b.ReportMetric(float64(sent)*size/el/(1<<20), "MiB/s")
		})
	}
}
