package ingest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// On a loopback listener, a Host that is not a loopback name or address is
// refused (DNS rebinding: a web page whose name now resolves to 127.0.0.1).
func TestHost_LoopbackOnly(t *testing.T) {
	cases := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:4575", true},
		{"127.0.0.1", true},
		{"127.1.2.3:4575", true},
		{"localhost:4575", true},
		{"LOCALHOST", true},
		{"app.localhost:4575", true},
		{"[::1]:4575", true},
		{"hydrant.internal:4575", true}, // the configured listen name
		{"", true},                      // HTTP/1.0 without Host: not a browser
		{"evil.example:4575", false},
		{"evil.example", false},
		{"10.0.0.1:4575", false},
		{"localhost.evil.example", false},
		{"[::1", false},
	}
	s := newTestServer(t, newFake("logs"), nil)
	h := s.GuardHost(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }), "Hydrant.Internal.")
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, "/v1/streams/logs/records", nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if tc.ok {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				return
			}
			requireError(t, w, http.StatusForbidden, api.ErrAccessDenied)
		})
	}
}
