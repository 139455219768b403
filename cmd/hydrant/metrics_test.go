package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/streams/events/records", strings.NewReader(strings.Join(lines, "\n"))))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
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
	deadline := time.Now().Add(30 * time.Second)
	for scrape(t, h, `hydrant_delivery_records_total{destination="lake",pipeline="events",type="directory"}`) != fmt.Sprint(sent) {
		require.True(t, time.Now().Before(deadline), "delivery did not finish")
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, fmt.Sprint(bytes+sent), scrape(t, h, `hydrant_delivery_bytes_total{destination="lake",pipeline="events",type="directory"}`),
		"delivered bytes include the delimiters append_delimiter added")
	require.Equal(t, "", scrape(t, h, `hydrant_backup_records_total{destination="lake",error_output_type="s3-failed",pipeline="events"}`))
}
