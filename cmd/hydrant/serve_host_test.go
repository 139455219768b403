package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const hostTestConfig = `
server:
  listen: LISTEN
  data_dir: %[1]s
pipelines:
  - name: logs
    destinations:
      - { name: d, type: discard }
`

// On a loopback listener every route refuses a foreign Host (DNS
// rebinding); beyond loopback the rule does not apply.
func TestServe_LoopbackListenerRefusesForeignHost(t *testing.T) {
	cases := []struct {
		listen, host string
		want         int
	}{
		{"127.0.0.1:4575", "127.0.0.1:4575", http.StatusOK},
		{"127.0.0.1:4575", "localhost:4575", http.StatusOK},
		{"127.0.0.1:4575", "evil.example:4575", http.StatusForbidden},
		{"localhost:4575", "evil.example", http.StatusForbidden},
		{"0.0.0.0:4575", "evil.example:4575", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.listen+" "+tc.host, func(t *testing.T) {
			a := testApp(t, t.TempDir(), strings.Replace(hostTestConfig, "LISTEN", tc.listen, 1))
			h := a.publicHandler()
			for _, path := range []string{"/healthz", "/v1/pipelines"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Host = tc.host
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				require.Equal(t, tc.want, w.Code, path+": "+w.Body.String())
			}
		})
	}
}
