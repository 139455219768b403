package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// benchOptions are hydrant bench's flags.
type benchOptions struct {
	endpoint, stream, door string
	records, size, batch   int
	concurrency, keys      int
	timeout                time.Duration
	wait                   bool
}

// cmdBench is the load generator and end-to-end benchmark of cli.md: it
// sends records through a door with concurrent clients, waits until the
// pipeline's destinations have resolved them all (from /v1/pipelines), and
// reports throughput, ingest and delivery latency, and the server's peak
// RSS (sampled from its /metrics).
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [flags]", stderr)
	var o benchOptions
	fs.StringVar(&o.endpoint, "endpoint", envOr("HYDRANT_ENDPOINT", "http://127.0.0.1:4575"), "server URL [HYDRANT_ENDPOINT]")
	fs.StringVar(&o.stream, "stream", "events", "pipeline to send to")
	fs.StringVar(&o.door, "door", "firehose", "firehose (PutRecordBatch) or rest (NDJSON batch door)")
	fs.IntVar(&o.records, "records", 100_000, "records to send")
	fs.IntVar(&o.size, "size", 1024, "bytes per record (a JSON object padded to this size)")
	fs.IntVar(&o.batch, "batch", 500, "records per request")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients")
	fs.IntVar(&o.keys, "keys", 1000, `distinct values of the records' "customer" field (partition-key cardinality)`)
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for delivery after this long")
	fs.BoolVar(&o.wait, "wait", true, "wait until the destinations have every record")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case o.door != "firehose" && o.door != "rest":
		return fmt.Errorf("%w: --door must be firehose or rest", errUsage)
	case o.records < 1, o.batch < 1 || o.batch > 500, o.concurrency < 1, o.keys < 1:
		return fmt.Errorf("%w: --records, --concurrency and --keys must be positive, --batch 1..500", errUsage)
	case o.size < 64 || o.size > putMaxRecordBytes:
		return fmt.Errorf("%w: --size must be between 64 and %d", errUsage, putMaxRecordBytes)
	}
	return runBench(ctx, o, stdout, stderr)
}

// benchRecord is record i: a JSON object of exactly size bytes.
func benchRecord(i, size, keys int) []byte {
	head := fmt.Sprintf(`{"id":%d,"customer":"c%d","ts":%d,"pad":"`, i, i%keys, time.Now().UnixMilli())
	pad := max(size-len(head)-2, 0)
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

func runBench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency}}
	client := api.NewClient(o.endpoint, api.WithHTTPClient(hc))
	base, err := resolvedRecords(ctx, hc, o.endpoint, o.stream)
	if err != nil {
		return err
	}
	rss := &rssSampler{}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var samplers sync.WaitGroup
	samplers.Go(func() { rss.run(sampleCtx, hc, o.endpoint) })
	defer func() { stopSampling(); samplers.Wait() }()

	nBatches := (o.records + o.batch - 1) / o.batch
	batches := make(chan int)
	var (
		mu       sync.Mutex
		lat      []time.Duration
		acks     []ack
		sent     atomic.Int64
		firstErr error
	)
	prog := newProgress(stderr)
	start := time.Now()
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for b := range batches {
				n := min(o.batch, o.records-b*o.batch)
				recs := make([][]byte, n)
				for i := range recs {
					recs[i] = benchRecord(b*o.batch+i, o.size, o.keys)
				}
				t0 := time.Now()
				var err error
				if o.door == "firehose" {
					_, err = client.PutRecordBatch(ctx, o.stream, recs)
				} else {
					var out *api.RecordsResponse
					out, err = client.PutRecords(ctx, o.stream, nil, "application/x-ndjson", joinLines(recs))
					if err == nil && out.Failed > 0 {
						err = fmt.Errorf("%d records failed", out.Failed)
					}
				}
				d := time.Since(t0)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					lat = append(lat, d)
					acks = append(acks, ack{upto: int(sent.Add(int64(n))), at: time.Now()})
				}
				prog.update(int(sent.Load()), sent.Load()*int64(o.size), time.Since(start))
				mu.Unlock()
			}
		})
	}
	for b := range nBatches {
		select {
		case batches <- b:
		case <-ctx.Done():
		}
	}
	close(batches)
	wg.Wait()
	prog.done()
	ingestTime := time.Since(start)
	if firstErr != nil {
		return fmt.Errorf("send: %w", firstErr)
	}
	total := int(sent.Load())

	// Delivery: poll the status API; a batch's delivery latency is from its
	// acknowledgement to the first poll at which the destinations had
	// resolved as many records as were acknowledged by then (an
	// approximation: shards deliver independently).
	var e2e []time.Duration
	deliverTime := time.Duration(0)
	if o.wait {
		deadline := time.Now().Add(o.timeout)
		slices.SortFunc(acks, func(a, b ack) int { return a.upto - b.upto })
		next := 0
		for next < len(acks) {
			if time.Now().After(deadline) {
				return fmt.Errorf("gave up after %s: destinations resolved %d of %d records", o.timeout, resolvedUpTo(acks, next), total)
			}
			got, err := resolvedRecords(ctx, hc, o.endpoint, o.stream)
			if err != nil {
				return err
			}
			now := time.Now()
			for next < len(acks) && got-base >= int64(acks[next].upto) {
				e2e = append(e2e, now.Sub(acks[next].at))
				next++
			}
			if next < len(acks) {
				select {
				case <-time.After(50 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		deliverTime = time.Since(start)
	}
	stopSampling()
	samplers.Wait()

	mb := float64(total) * float64(o.size) / 1e6
	fmt.Fprintf(stdout, "sent %d records of %d bytes (%.1f MB) through the %s door, %d clients, %d per request\n",
		total, o.size, mb, o.door, o.concurrency, o.batch)
	fmt.Fprintf(stdout, "ingest:      %8.0f records/s  %7.1f MB/s  latency p50 %s  p99 %s\n",
		float64(total)/ingestTime.Seconds(), mb/ingestTime.Seconds(), pct(lat, 50), pct(lat, 99))
	if o.wait {
		fmt.Fprintf(stdout, "end to end:  %8.0f records/s  %7.1f MB/s  delivery latency p50 %s  p99 %s\n",
			float64(total)/deliverTime.Seconds(), mb/deliverTime.Seconds(), pct(e2e, 50), pct(e2e, 99))
	}
	if peak := rss.peak.Load(); peak > 0 {
		fmt.Fprintf(stdout, "server peak RSS: %.0f MiB (sampled every 200 ms)\n", float64(peak)/(1<<20))
	} else {
		fmt.Fprintln(stdout, "server peak RSS: unknown (no process_resident_memory_bytes in /metrics)")
	}
	return nil
}

// ack is one acknowledged request: how many records had been acknowledged
// in all once it was, and when.
type ack struct {
	upto int
	at   time.Time
}

// resolvedUpTo is how many records the first next acks cover.
func resolvedUpTo(acks []ack, next int) int {
	if next == 0 {
		return 0
	}
	return acks[next-1].upto
}

func joinLines(recs [][]byte) []byte {
	var n int
	for _, r := range recs {
		n += len(r) + 1
	}
	out := make([]byte, 0, n)
	for _, r := range recs {
		out = append(append(out, r...), '\n')
	}
	return out
}

// pct returns the p-th percentile of ds, rounded for printing.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Millisecond)
}

// resolvedRecords sums, for the stream, the records its slowest destination
// has delivered or backed up.
func resolvedRecords(ctx context.Context, hc *http.Client, endpoint, stream string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/v1/pipelines/"+url.PathEscape(stream), nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("pipeline status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return 0, fmt.Errorf("pipeline status: %s: %s", resp.Status, b)
	}
	var st pipelineStatus // the server's own shape (status.go)
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("pipeline status: %w", err)
	}
	least := int64(-1)
	for _, d := range st.Destinations {
		n := d.Stats.DeliveredRecords
		for _, b := range d.Stats.BackedUpRecords {
			n += b
		}
		if least < 0 || n < least {
			least = n
		}
	}
	if least < 0 {
		return 0, errors.New("pipeline status: no destinations")
	}
	return least, nil
}

// rssSampler keeps the largest process_resident_memory_bytes the server's
// /metrics reported.
type rssSampler struct{ peak atomic.Int64 }

func (s *rssSampler) run(ctx context.Context, hc *http.Client, endpoint string) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		s.sample(ctx, hc, endpoint)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *rssSampler) sample(ctx context.Context, hc *http.Client, endpoint string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && int64(f) > s.peak.Load() {
				s.peak.Store(int64(f))
			}
			return
		}
	}
}
