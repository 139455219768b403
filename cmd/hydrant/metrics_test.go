package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scrape returns the value of one metric line from /metrics, or "".
func scrape(t *testing.T, h http.Handler, series string) string {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, w.Code)
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// putLines sends lines to stream through the batch door and requires 200.
func putLines(t *testing.T, h http.Handler, stream string, lines []string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/streams/"+stream+"/records", strings.NewReader(strings.Join(lines, "\n"))))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// waitScrape polls /metrics until every series has its wanted value.
func waitScrape(t *testing.T, h http.Handler, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := true
		for series, v := range want {
			if scrape(t, h, series) != v {
				done = false
			}
		}
		if done {
			return
		}
		require.True(t, time.Now().Before(deadline), "metrics did not reach %v", want)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetrics_CountExactlyWhatWasSentAndDelivered(t *testing.T) {
	a := testApp(t, t.TempDir(), `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    processors: [{ type: append_delimiter }]
    destinations:
      - { name: lake, type: directory, store: local, buffer: { size: 1MiB, interval: 0s } }
`)
	startDelivery(t, a)
	h := a.handler()

	sent, bytes := 0, 0
	for req := range 3 {
		var lines []string
		for i := range 100 + req {
			l := fmt.Sprintf(`{"req":%d,"i":%d}`, req, i)
			lines = append(lines, l)
			bytes += len(l)
		}
		sent += len(lines)
		putLines(t, h, "events", lines)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/streams/events/records", strings.NewReader("{bad")))
	require.Equal(t, http.StatusBadRequest, w.Code)
	_, _ = io.Copy(io.Discard, w.Body)

	require.Equal(t, fmt.Sprint(sent), scrape(t, h, `hydrant_incoming_records_total{pipeline="events"}`))
	require.Equal(t, fmt.Sprint(bytes), scrape(t, h, `hydrant_incoming_bytes_total{pipeline="events"}`))
	require.Equal(t, "3", scrape(t, h, `hydrant_incoming_put_requests_total{pipeline="events"}`), "the rejected request stored nothing")
	require.Equal(t, "3", scrape(t, h, `hydrant_http_request_duration_seconds_count{code="2xx",door="batch"}`))
	require.Equal(t, "1", scrape(t, h, `hydrant_http_request_duration_seconds_count{code="4xx",door="batch"}`))
	waitScrape(t, h, map[string]string{`hydrant_delivery_records_total{destination="lake",pipeline="events",type="directory"}`: fmt.Sprint(sent)})
	require.Equal(t, fmt.Sprint(bytes+sent), scrape(t, h, `hydrant_delivery_bytes_total{destination="lake",pipeline="events",type="directory"}`),
		"delivered bytes include the delimiters append_delimiter added")
	require.Equal(t, "", scrape(t, h, `hydrant_backup_records_total{destination="lake",error_output_type="s3-failed",pipeline="events"}`))
}

// A destination whose store cannot be written: with no retry window every
// record goes to the backup at once, and the metrics say exactly that.
func TestMetrics_CountExactlyWhatFailed(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked")
	a := testApp(t, dir, `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
  blocked: { type: directory, path: `+blocked+` }
pipelines:
  - name: events
    stream: { shards: 1 }
    processors:
      - { type: jq_metadata, partition_keys: { k: .k } }
    destinations:
      - name: lake
        type: directory
        store: blocked
        prefix: "k=!{partitionKeyFromQuery:k}/"
        buffer: { size: 1MiB, interval: 0s }
        retry: { duration: 0s }
        backup: { store: local, prefix: "source/" }
`)
	blockStore(t, blocked)
	h := a.handler()
	var lines []string
	const good, noKey = 40, 7
	for i := range good {
		lines = append(lines, fmt.Sprintf(`{"k":"p%d","i":%d}`, i%5, i))
	}
	for i := range noKey {
		lines = append(lines, fmt.Sprintf(`{"i":%d}`, i))
	}
	putLines(t, h, "events", lines)
	startDelivery(t, a)

	const failed = `hydrant_backup_records_total{destination="lake",error_output_type="s3-failed",pipeline="events"}`
	const keyFailed = `hydrant_backup_records_total{destination="lake",error_output_type="partition-key-failed",pipeline="events"}`
	waitScrape(t, h, map[string]string{failed: fmt.Sprint(good), keyFailed: fmt.Sprint(noKey)})
	const labels = `{destination="lake",pipeline="events",type="directory"}`
	require.Equal(t, "0", scrape(t, h, `hydrant_delivery_records_total`+labels))
	require.Equal(t, "0", scrape(t, h, `hydrant_delivery_bytes_total`+labels))
	require.Equal(t, "0", scrape(t, h, `hydrant_delivery_attempts_total{destination="lake",pipeline="events",result="success",type="directory"}`))
	failures, err := strconv.Atoi(scrape(t, h, `hydrant_delivery_attempts_total{destination="lake",pipeline="events",result="failure",type="directory"}`))
	require.NoError(t, err)
	// One attempt per partition flush (5 keys), each batch read may split them.
	require.GreaterOrEqual(t, failures, 5)
	calls := scrape(t, h, `hydrant_execute_processing_calls_total{destination="lake",pipeline="events",result="success"}`)
	require.NotEqual(t, "0", calls)
	require.Equal(t, calls, scrape(t, h, `hydrant_execute_processing_duration_seconds_count{destination="lake",pipeline="events"}`),
		"every processor call is timed")
	require.Equal(t, "0", scrape(t, h, `hydrant_execute_processing_calls_total{destination="lake",pipeline="events",result="failure"}`))
	require.Equal(t, "0", scrape(t, h, `hydrant_partition_count{destination="lake",pipeline="events"}`), "every partition was resolved")
	require.Equal(t, fmt.Sprint(good+noKey), scrape(t, h, `hydrant_incoming_records_total{pipeline="events"}`))
}
