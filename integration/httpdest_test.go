//go:build integration

package integration

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/stretchr/testify/require"
)

// httpDestConfig writes a configuration for a Hydrant whose pipeline
// "events" (of shards shards) delivers to an http destination "out"; dest is the
// destination's own keys (indented for the destination's mapping).
// Failed records go to the default backup store at <dir>/data/backup.
func httpDestConfig(t *testing.T, dir, addr string, shards int, dest string) string {
	t.Helper()
	return writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
pipelines:
  - name: events
    stream: { shards: %d }
    destinations:
      - name: out
        type: http
        buffer: { size: 1MiB, interval: 1s }
        retry: { duration: 1h }
%s`, addr, filepath.Join(dir, "data"), shards, dest))
}

// TestHTTPDestination_HydrantToHydrant chains two Hydrant processes: A's
// http destination delivers, gzip-encoded and in requests of at most
// 256KiB, to B's receiver door with an access key that B's api_keys
// accepts; B delivers to a directory destination. Every record sent into
// A (over the Firehose door, as raw bytes) arrives in B's lake once, byte
// for byte, and nothing goes to either backup.
func TestHTTPDestination_HydrantToHydrant(t *testing.T) {
	const (
		total = 5000
		key   = "h2h-key-1234"
	)
	dirB, addrB := t.TempDir(), freeAddr(t)
	cfgB := writeHydrantConfig(t, dirB, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
  auth:
    api_keys: [ %s ]
stores:
  local: { type: directory, path: %s }
pipelines:
  - name: events
    stream: { shards: 2 }
    destinations:
      - name: lake
        type: directory
        store: local
        buffer: { size: 1MiB, interval: 1s }
`, addrB, filepath.Join(dirB, "data"), key, filepath.Join(dirB, "lake")))
	srvB := startServer(t, cfgB, addrB)

	dirA, addrA := t.TempDir(), freeAddr(t)
	cfgA := httpDestConfig(t, dirA, addrA, 2, fmt.Sprintf(`        url: http://%s/v1/firehose-endpoint/events
        access_key: %s
        content_encoding: gzip
        max_body_bytes: 256KiB
        common_attributes: { origin: hydrant-a }
`, addrB, key))
	srvA := startServer(t, cfgA, addrA)

	// Records are lines: each ends in a newline, so that B's objects are
	// their concatenation and read back line by line.
	want := map[string]int{}
	wantBytes := 0
	var recs []types.Record
	fh := firehoseClient(addrA)
	flush := func() {
		out, err := fh.PutRecordBatch(t.Context(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("events"), Records: recs})
		require.NoError(t, err)
		require.Zero(t, aws.ToInt32(out.FailedPutCount))
		recs = nil
	}
	for i := range total {
		var line string
		switch i % 3 {
		case 0:
			line = fmt.Sprintf(`{"i":%d,"s":"naïve \"quoted\" \\ café","f":%d.5,"b":true}`, i, i)
		case 1:
			line = fmt.Sprintf("plain text %d\twith a tab, ünïcødé and  two spaces ", i)
		default:
			line = fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", i%700))
		}
		data := line + "\n"
		want[line]++
		wantBytes += len(data)
		recs = append(recs, types.Record{Data: []byte(data)})
		if len(recs) == 500 {
			flush()
		}
	}
	if len(recs) > 0 {
		flush()
	}

	lake := filepath.Join(dirB, "lake")
	waitLines(t, lake, want)
	// Wait until A has nothing left to deliver, then for B to flush what
	// it received: a late duplicate would show up in the lake.
	waitFor(t, time.Minute, "A's backlog empty", func() bool {
		st, ok := pgGetStatus(addrA, "events")
		return ok && st.pending() == 0
	})
	waitFor(t, time.Minute, "B's backlog empty", func() bool {
		st, ok := statusWithKey(addrB, "events", key)
		return ok && st.pending() == 0
	})
	stA, _ := pgGetStatus(addrA, "events")
	require.NoError(t, srvA.stop())
	require.NoError(t, srvB.stop())

	seen := countLines(t, lake)
	lakeBytes := 0
	for _, o := range readLake(t, lake) {
		for _, l := range o.Lines {
			lakeBytes += len(l) + 1
		}
	}
	require.Equal(t, want, seen, "every record once, byte for byte")
	require.Equal(t, wantBytes, lakeBytes, "B's objects are exactly the records' bytes")
	requireNoBackups(t, filepath.Join(dirA, "data", "backup"))
	requireNoBackups(t, filepath.Join(dirB, "data", "backup"))
	var delivered, failed int64
	if len(stA.Destinations) > 0 {
		delivered, failed = stA.Destinations[0].Stats.DeliveredRecords, stA.Destinations[0].Stats.FailedAttempts
	}
	t.Logf("records=%d bytes=%d objects in B=%d A delivered=%d A failed attempts=%d",
		total, wantBytes, len(readLake(t, lake)), delivered, failed)
}

// statusWithKey is pgGetStatus for a server with auth on: it sends key
// as a bearer token.
func statusWithKey(addr, pipeline, key string) (pgStatus, bool) {
	var st pgStatus
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/pipelines/"+pipeline, nil)
	if err != nil {
		return st, false
	}
	req.Header.Set("Authorization", "Bearer "+key)
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, false
	}
	return st, json.NewDecoder(resp.Body).Decode(&st) == nil
}

// endpointAttempt is one request the fake endpoint received.
type endpointAttempt struct {
	records []string
	status  int
}

// TestHTTPDestination_RetriesCarryTheSameRequestID points A's http
// destination at an endpoint written from Firehose's protocol that fails
// the first two attempts of every request id with 500 and accepts the
// third (200 with the request's requestId and a numeric timestamp). Every
// retry of a request carries the same id and the same records, each
// record belongs to one request id only, and every record sent is
// accepted exactly once; the protocol headers are as documented.
func TestHTTPDestination_RetriesCarryTheSameRequestID(t *testing.T) {
	const (
		total     = 400
		failFirst = 2
		key       = "endpoint-key-5"
	)
	var (
		mu       sync.Mutex
		attempts = map[string][]endpointAttempt{} // request id -> attempts in order
		badReqs  []string
		checks   int // requests without records
	)
	bad := func(format string, args ...any) {
		mu.Lock()
		badReqs = append(badReqs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Amz-Firehose-Request-Id")
		if r.Method != http.MethodPost || id == "" {
			bad("%s %s without a request id", r.Method, r.URL)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for h, v := range map[string]string{
			"X-Amz-Firehose-Protocol-Version":  "1.0",
			"X-Amz-Firehose-Access-Key":        key,
			"X-Amz-Firehose-Common-Attributes": `{"commonAttributes":{"team":"it"}}`,
			"Content-Type":                     "application/json",
		} {
			if got := r.Header.Get(h); got != v {
				bad("request %s: header %s = %q, want %q", id, h, got, v)
			}
		}
		if arn := r.Header.Get("X-Amz-Firehose-Source-Arn"); !strings.HasSuffix(arn, ":deliverystream/events") {
			bad("request %s: source arn %q", id, arn)
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				bad("request %s: gzip: %v", id, err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			body = zr
		}
		var req struct {
			RequestID string `json:"requestId"`
			Timestamp int64  `json:"timestamp"`
			Records   []struct {
				Data string `json:"data"`
			} `json:"records"`
		}
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			bad("request %s: body: %v", id, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if req.RequestID != id || req.Timestamp <= 0 {
			bad("request %s: body requestId %q timestamp %d", id, req.RequestID, req.Timestamp)
		}
		if len(req.Records) == 0 {
			// The destination's start-up check: a request without records,
			// answered at once and not counted.
			mu.Lock()
			checks++
			mu.Unlock()
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":%d}`, id, time.Now().UnixMilli())
			return
		}
		recs := make([]string, len(req.Records))
		for i, rec := range req.Records {
			data, err := base64.StdEncoding.DecodeString(rec.Data)
			if err != nil {
				bad("request %s: record %d: %v", id, i, err)
			}
			recs[i] = string(data)
		}
		mu.Lock()
		n := len(attempts[id])
		status := http.StatusOK
		if n < failFirst {
			status = http.StatusInternalServerError
		}
		attempts[id] = append(attempts[id], endpointAttempt{records: recs, status: status})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		ts := time.Now().UnixMilli()
		if status == http.StatusOK {
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":%d}`, id, ts)
		} else {
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":%d,"errorMessage":"attempt %d refused on purpose"}`, id, ts, n+1)
		}
	}))
	t.Cleanup(endpoint.Close)

	dir, addr := t.TempDir(), freeAddr(t)
	cfg := httpDestConfig(t, dir, addr, 2, fmt.Sprintf(`        url: %s/ingest
        access_key: %s
        max_body_bytes: 64KiB
        common_attributes: { team: it }
`, endpoint.URL, key))
	srv := startServer(t, cfg, addr)

	sent := map[string]bool{}
	var lines []string
	for i := range total {
		// About 300 bytes: a shard's batch (about 200 records) is cut
		// into two requests of at most 64KiB.
		l := fmt.Sprintf(`{"id":%d,"body":"record %d of the retry test, ünïcødé","pad":%q}`, i, i, strings.Repeat("p", 220))
		sent[l] = true
		lines = append(lines, l)
	}
	// One request: each shard flushes one batch.
	resp, body, err := putNDJSON(t.Context(), addr, "events", lines)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	accepted := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for _, as := range attempts {
			for _, a := range as {
				if a.status == http.StatusOK {
					for _, r := range a.records {
						out[r]++
					}
				}
			}
		}
		return out
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for id, as := range attempts {
			for i, a := range as {
				first, last := "", ""
				if len(a.records) > 0 {
					first, last = a.records[0], a.records[len(a.records)-1]
				}
				t.Logf("request %s attempt %d: status %d, %d records %s .. %s", id, i+1, a.status, len(a.records), first, last)
			}
		}
		for _, b := range badReqs {
			t.Logf("bad request: %s", b)
		}
	})
	waitFor(t, 2*time.Minute, "every record accepted by the endpoint", func() bool {
		got := accepted()
		for l := range sent {
			if got[l] == 0 {
				return false
			}
		}
		return true
	})
	waitFor(t, time.Minute, "the backlog empty", func() bool {
		st, ok := pgGetStatus(addr, "events")
		return ok && st.pending() == 0
	})
	st, _ := pgGetStatus(addr, "events")
	require.NoError(t, srv.stop())

	got := accepted() // record -> accepted requests that carried it
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, badReqs, "requests follow the protocol")
	owner := map[string]string{} // record -> the request id that carried it
	requests := 0
	for id, as := range attempts {
		requests += len(as)
		require.Len(t, as, failFirst+1, "request %s: %d refused attempts, then one accepted, then no more", id, failFirst)
		for i, a := range as {
			require.Equal(t, as[0].records, a.records, "request %s attempt %d carries the same records as its first", id, i+1)
		}
		require.Equal(t, http.StatusOK, as[failFirst].status)
		for _, r := range as[0].records {
			prev, dup := owner[r]
			require.False(t, dup, "record %s carried by requests %s and %s", r, prev, id)
			owner[r] = id
		}
	}
	for l := range sent {
		require.Equal(t, 1, got[l], "record accepted once: %s", l)
	}
	require.Len(t, got, total, "only the records sent")
	requireNoBackups(t, filepath.Join(dir, "data", "backup"))
	var delivered, failed int64
	if len(st.Destinations) > 0 {
		delivered, failed = st.Destinations[0].Stats.DeliveredRecords, st.Destinations[0].Stats.FailedAttempts
	}
	t.Logf("records=%d request ids=%d attempts=%d checks=%d delivered=%d failed attempts=%d",
		total, len(attempts), requests, checks, delivered, failed)
	require.Greater(t, len(attempts), 1, "the batches were cut into several requests")
}
