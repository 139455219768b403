package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkIngest measures the whole server over loopback, as issue 2 asks:
// 1 KiB JSON records, 500 per request, 32 concurrent clients, acknowledged
// only once fsynced; through each door, with delivery to the directory sink
// paused and running. The load generator shares the process and the cores.
//
//	go test ./cmd/hydrant -run '^$' -bench Ingest -benchtime 2000x
func BenchmarkIngest(b *testing.B) {
	for _, door := range []string{"rest", "firehose"} {
		for _, deliver := range []bool{false, true} {
			name := fmt.Sprintf("door=%s/delivery=%s", door, map[bool]string{false: "paused", true: "running"}[deliver])
			b.Run(name, func(b *testing.B) { benchIngest(b, door, deliver) })
		}
	}
}

const (
	benchClients       = 32
	benchRecordsPerReq = 500
	benchRecordBytes   = 1024
)

func benchBody(door string) ([]byte, string, string) {
	var buf bytes.Buffer
	switch door {
	case "rest":
		for i := range benchRecordsPerReq {
			buf.Write(benchRecord(i, benchRecordBytes, 1000))
			buf.WriteByte('\n')
		}
		return buf.Bytes(), "/v1/streams/events/records", "application/x-ndjson"
	default:
		buf.WriteString(`{"DeliveryStreamName":"events","Records":[`)
		for i := range benchRecordsPerReq {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(`{"Data":"`)
			buf.WriteString(base64.StdEncoding.EncodeToString(benchRecord(i, benchRecordBytes, 1000)))
			buf.WriteString(`"}`)
		}
		buf.WriteString(`]}`)
		return buf.Bytes(), "/", "application/x-amz-json-1.1"
	}
}

func benchIngest(b *testing.B, door string, deliver bool) {
	dir, err := os.MkdirTemp(benchDir(), "hydrant-bench-")
	require.NoError(b, err)
	b.Cleanup(func() { os.RemoveAll(dir) }) // after the app closes (cleanups run last first)
	a := testApp(b, dir, `server:
  data_dir: %[1]s
  limits: { max_backlog_bytes: 100GiB }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    processors: [{ type: append_delimiter }]
    destinations:
      - { name: lake, type: directory, store: local, buffer: { size: 5MiB, interval: 10s } }
`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: a.handler()}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if deliver {
		startDelivery(b, a)
	}

	body, path, ctype := benchBody(door)
	url := "http://" + ln.Addr().String() + path
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	target := "Firehose_20150804.PutRecordBatch"
	lat := make([][]time.Duration, benchClients)
	var next sync.Mutex
	remaining := b.N
	stream := a.pipelines[0].stream
	syncs0 := stream.Stats().Syncs

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range benchClients {
		wg.Go(func() {
			for {
				next.Lock()
				if remaining == 0 {
					next.Unlock()
					return
				}
				remaining--
				next.Unlock()
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", ctype)
				req.Header.Set("X-Amz-Target", target)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	all := slices.Concat(lat...)
	slices.Sort(all)
	recs := float64(b.N * benchRecordsPerReq)
	mib := recs * benchRecordBytes / (1 << 20)
	syncs := float64(stream.Stats().Syncs - syncs0)
	b.ReportMetric(recs/elapsed.Seconds(), "records/s")
	b.ReportMetric(mib/elapsed.Seconds(), "MiB/s")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
	if syncs > 0 {
		b.ReportMetric(mib/syncs, "MiB/fsync")
	}
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
}

// benchDir keeps benchmark data on the real disk (not a tmpfs /tmp).
func benchDir() string {
	if d := os.Getenv("HYDRANT_BENCH_DIR"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	return wd
}

// peakRSS reads VmHWM (peak resident set) of this process, in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
