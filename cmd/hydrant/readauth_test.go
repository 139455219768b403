package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// readAuthApp serves one pipeline with auth (YAML flow mappings that
// continue the server block: "", ", auth: {...}").
func readAuthApp(t *testing.T, auth string) http.Handler {
	t.Helper()
	return testApp(t, t.TempDir(), `server: { data_dir: "%[1]s"`+auth+` }
stores:
  local: { type: directory, path: "%[2]s" }
pipelines:
  - name: events
    destinations:
      - { name: lake, type: directory, store: local }
`).handler()
}

func get(h http.Handler, path string, with func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:4575"+path, nil)
	if with != nil {
		with(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func bearer(k string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+k) }
}

func xAPIKey(k string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("X-Api-Key", k) }
}

// Every read endpoint, open and with server.auth set, with and without a
// credential: data needs the key once auth is on; the page shell, health
// and (when configured) metrics stay open.
func TestReadAuth_Endpoints(t *testing.T) {
	const keys = ", auth: { api_keys: [k1] }"
	const keysOpenMetrics = ", auth: { api_keys: [k1], open_metrics: true }"
	data := []string{"/v1/pipelines", "/v1/pipelines/events"}
	open := []string{"/ui", "/ui/", "/ui/app.js", "/healthz", "/readyz"}
	cases := []struct {
		name, auth string
		cred       func(*http.Request)
		want       map[string]int // path -> status; unlisted: 200
	}{
		{name: "no auth, no key", auth: ""},
		{name: "no auth, any key", auth: "", cred: bearer("whatever")},
		{name: "auth, no key", auth: keys, want: map[string]int{
			"/v1/pipelines": 401, "/v1/pipelines/events": 401, "/metrics": 401}},
		{name: "auth, bearer", auth: keys, cred: bearer("k1")},
		{name: "auth, x-api-key", auth: keys, cred: xAPIKey("k1")},
		{name: "auth, wrong key", auth: keys, cred: bearer("nope"), want: map[string]int{
			"/v1/pipelines": 401, "/v1/pipelines/events": 401, "/metrics": 401}},
		{name: "open metrics, no key", auth: keysOpenMetrics, want: map[string]int{
			"/v1/pipelines": 401, "/v1/pipelines/events": 401}},
		{name: "open metrics, bearer", auth: keysOpenMetrics, cred: bearer("k1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := readAuthApp(t, tc.auth)
			for _, path := range append(append(data, open...), "/metrics") {
				want := http.StatusOK
				if s, ok := tc.want[path]; ok {
					want = s
				}
				w := get(h, path, tc.cred)
				require.Equal(t, want, w.Code, "%s: %s", path, w.Body)
				if want == http.StatusUnauthorized {
					requireFirehoseError(t, w)
				}
			}
		})
	}
}

// An unknown pipeline is not revealed to a caller without a key.
func TestReadAuth_UnknownPipelineNeedsKeyFirst(t *testing.T) {
	h := readAuthApp(t, ", auth: { api_keys: [k1] }")
	require.Equal(t, http.StatusUnauthorized, get(h, "/v1/pipelines/nope", nil).Code)
	require.Equal(t, http.StatusNotFound, get(h, "/v1/pipelines/nope", bearer("k1")).Code)
}

// With only AWS credentials configured, a read signed with SigV4 (empty
// payload) is accepted.
func TestReadAuth_SigV4(t *testing.T) {
	h := readAuthApp(t, ", auth: { aws_credentials: [{ access_key_id: AKID, secret_access_key: s3cr3t }] }")
	sign := func(secret string) func(*http.Request) {
		return func(r *http.Request) {
			api.SignRequest(r, nil, api.Credentials{AccessKeyID: "AKID", SecretAccessKey: secret}, "us-east-1", time.Now())
		}
	}
	require.Equal(t, http.StatusOK, get(h, "/v1/pipelines", sign("s3cr3t")).Code)
	require.Equal(t, http.StatusOK, get(h, "/metrics", sign("s3cr3t")).Code)
	w := get(h, "/v1/pipelines", sign("wrong"))
	require.Equal(t, http.StatusBadRequest, w.Code)
	requireFirehoseError(t, w)
	require.Equal(t, http.StatusUnauthorized, get(h, "/v1/pipelines", bearer("k1")).Code, "API keys are not configured")
}

// requireFirehoseError checks the write doors' error shape.
func requireFirehoseError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	require.NotEmpty(t, body.Type)
	require.NotEmpty(t, body.Message)
	require.Equal(t, body.Type, w.Header().Get("X-Amzn-Errortype"))
}

// /readyz stays open, but with auth on only a caller with a key sees why a
// destination is not reachable: the reason may quote record data.
func TestReadAuth_ReadyzHidesReasons(t *testing.T) {
	closed := closedAddr(t)
	a := testApp(t, t.TempDir(), `server: { data_dir: "%[1]s", auth: { api_keys: [k1] } }
stores:
  local: { type: directory, path: "%[2]s" }
  gone: { type: s3, endpoint: "http://`+closed+`", access_key_id: a, secret_access_key: b }
pipelines:
  - name: events
    destinations:
      - { name: lake, type: directory, store: local }
      - { name: cloud, type: s3, store: gone, bucket: logs }
`)
	h := a.handler()
	_ = get(h, "/readyz", nil) // starts a round of checks
	a.readiness.wg.Wait()

	w := get(h, "/readyz", nil)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "ok\nevents/lake: ok\nevents/cloud: not ready\n", w.Body.String())

	w = get(h, "/readyz", bearer("k1"))
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "events/cloud: not ready (delivery retries; records wait in the stream): ")
}
