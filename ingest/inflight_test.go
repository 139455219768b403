package ingest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// server.limits.max_inflight_bytes: while one request holds most of the
// budget, another that needs more than is left answers 503 with
// Retry-After; once the first is done its bytes are back.
func TestInflight_BudgetIsSharedAndGivenBack(t *testing.T) {
	f := newFake("logs")
	s := newTestServer(t, f, func(o *Options) {
		o.Limits = Limits{MaxRequestBytes: 64 << 10, MaxInflightBytes: 64 << 10}
	})
	h := s.Handler()
	line := `{"a":"` + strings.Repeat("x", 990) + `"}` + "\n"
	body := func(n int) string { return strings.Repeat(line, n) }

	// The first request has sent 40 KiB and waits for the rest.
	pr, pw := io.Pipe()
	firstDone := make(chan *httptest.ResponseRecorder)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/streams/logs/records", pr))
		firstDone <- w
	}()
	_, err := io.WriteString(pw, body(40))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.inflight.Load() >= int64(len(body(40))) }, 10*time.Second, time.Millisecond)

	// 40 KiB more does not fit in what is left.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/streams/logs/records", strings.NewReader(body(40))))
	requireError(t, w, http.StatusServiceUnavailable, api.ErrServiceUnavailable)
	require.Equal(t, "1", w.Header().Get("Retry-After"))

	require.NoError(t, pw.Close())
	require.Equal(t, http.StatusOK, (<-firstDone).Code)
	require.Zero(t, s.inflight.Load(), "every byte is given back")

	// Now the same request fits, on every door that reads a body.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/streams/logs/records", strings.NewReader(body(40))))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Zero(t, s.inflight.Load())
	require.Len(t, f.stored("logs"), 80)
}
