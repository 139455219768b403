package wal

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkAppend measures group commit with real fdatasync. One op is one
// Append call carrying `batch` records; "batch=1" is one record per call,
// "batch=put" is a PutRecordBatch-sized call (up to 500 records, 4 MiB).
// The temp dir must be on a real disk, not tmpfs (check with df).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1 << 10, 100 << 10} {
		for _, writers := range []int{1, 8, 64} {
			for _, batchName := range []string{"1", "put"} {
				batch := 1
				if batchName == "put" {
					batch = min(500, (4<<20)/size)
				}
				name := fmt.Sprintf("size=%d/writers=%d/batch=%s", size, writers, batchName)
				b.Run(name, func(b *testing.B) { benchAppend(b, size, writers, batch) })
			}
		}
	}
}

func benchAppend(b *testing.B, size, writers, batch int) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	payloads := make([][]byte, batch)
	for i := range payloads {
		payloads[i] = payload("bench", i, size)
	}
	// Keep exactly `writers` Appends in flight: each iteration waits for
	// one to complete and issues the next, so the timed loop measures the
	// steady state rather than how fast work can be queued.
	ops := make(chan struct{}, writers)
	done := make(chan struct{}, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range ops {
				if _, err := l.Append(b.Context(), payloads...); err != nil {
					b.Error(err)
				}
				done <- struct{}{}
			}
		})
		ops <- struct{}{}
	}
	b.SetBytes(int64(size * batch))
	before := l.Stats()
	n := 0
	for b.Loop() {
		<-done
		ops <- struct{}{}
		n++
	}
	close(ops)
	wg.Wait()
	b.StopTimer()
	st := l.Stats()
	syncs := float64(st.Syncs - before.Syncs)
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(n*batch)/secs, "records/s")
	b.ReportMetric(syncs/float64(n+writers), "fsyncs/op")
	if syncs > 0 {
		b.ReportMetric(float64(st.SyncedBytes-before.SyncedBytes)/syncs/(1<<20), "MiB/fsync")
	}
}
