package ingest

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// A refused request is logged with the same request id the client got, on
// every door and through the guards that answer before the doors do.
func TestRequestID_RefusalsAreLoggedWithTheClientsID(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, newFake("logs"), func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	h := s.GuardHost(s.Handler())
	cases := map[string]*http.Request{
		"firehose door": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{`))
			r.Header.Set("Content-Type", api.ContentType)
			r.Header.Set("X-Amz-Target", api.TargetPrefix+"PutRecord")
			return r
		}(),
		"batch door": httptest.NewRequest(http.MethodPut, "/v1/streams/nope/records", strings.NewReader(`{"a":1}`)),
		"host guard": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = "evil.example"
			return r
		}(),
		"receiver door": httptest.NewRequest(http.MethodPost, "/v1/firehose-endpoint/logs", strings.NewReader(`{"records":`)),
		"unknown path":  httptest.NewRequest(http.MethodGet, "/nowhere", nil),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			require.GreaterOrEqual(t, w.Code, 400)
			id := w.Header().Get("X-Amzn-Requestid")
			require.NotEmpty(t, id)
			require.Contains(t, logs.String(), `"request_id":"`+id+`"`)
			require.Equal(t, 1, strings.Count(logs.String(), "request refused"), logs.String())
		})
	}
}
