package ingest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
)

func readRequest(path string, with func(*http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:4575"+path, nil)
	if with != nil {
		with(r)
	}
	return r
}

func TestRequireAuth(t *testing.T) {
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	withKey := func(k string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+k) }
	}
	signed := func(secret string) func(*http.Request) {
		return func(r *http.Request) {
			api.SignRequest(r, nil, api.Credentials{AccessKeyID: "AKIDHYDRANT", SecretAccessKey: secret}, "us-east-1", now)
		}
	}
	cases := []struct {
		name   string
		auth   bool
		with   func(*http.Request)
		status int
		code   string
	}{
		{"auth off", false, nil, http.StatusTeapot, ""},
		{"no credential", true, nil, http.StatusUnauthorized, api.ErrMissingAuthToken},
		{"api key", true, withKey("k1"), http.StatusTeapot, ""},
		{"x-api-key", true, func(r *http.Request) { r.Header.Set("X-Api-Key", "k1") }, http.StatusTeapot, ""},
		{"wrong key", true, withKey("k2"), http.StatusUnauthorized, api.ErrUnrecognizedClient},
		{"sigv4", true, signed("s3cr3t"), http.StatusTeapot, ""},
		{"bad signature", true, signed("wrong"), http.StatusBadRequest, api.ErrInvalidSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, newFake("logs"), func(o *Options) {
				o.Now = func() time.Time { return now }
				if tc.auth {
					o.APIKeys = []string{"k1"}
					o.AWSCredentials = testCreds
				}
			})
			w := httptest.NewRecorder()
			s.RequireAuth(ok).ServeHTTP(w, readRequest("/v1/pipelines", tc.with))
			require.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.code != "" {
				require.Equal(t, tc.code, w.Header().Get("X-Amzn-Errortype"))
				require.Contains(t, w.Body.String(), `"__type":"`+tc.code+`"`)
				require.NotEmpty(t, w.Header().Get("X-Amzn-Requestid"))
			}
		})
	}
}

// /readyz stays open; with auth on, anonymous callers see each component's
// state without the reason, also on a 503.
func TestReadyz_HidesReasonsFromAnonymousCallers(t *testing.T) {
	const detail = "p/ok: ok\np/bad: not ready (delivery retries): dial tcp: secret-bucket-from-record\n"
	ready := func(context.Context) (string, error) { return detail, nil }
	for _, tc := range []struct {
		name string
		auth bool
		with func(*http.Request)
		want string
	}{
		{"auth off", false, nil, "ok\n" + detail},
		{"anonymous", true, nil, "ok\np/ok: ok\np/bad: not ready\n"},
		{"wrong key", true, func(r *http.Request) { r.Header.Set("X-Api-Key", "nope") }, "ok\np/ok: ok\np/bad: not ready\n"},
		{"with key", true, func(r *http.Request) { r.Header.Set("X-Api-Key", "k1") }, "ok\n" + detail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, newFake("logs"), func(o *Options) {
				o.Ready = ready
				if tc.auth {
					o.APIKeys = []string{"k1"}
				}
			})
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, readRequest("/readyz", tc.with))
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, tc.want, w.Body.String())
		})
	}

	s := newTestServer(t, newFake("logs"), func(o *Options) {
		o.APIKeys = []string{"k1"}
		o.Ready = func(context.Context) (string, error) { return detail, errors.New("shutting down") }
	})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, readRequest("/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.NotContains(t, w.Body.String(), "secret-bucket")
	require.Contains(t, w.Body.String(), "p/bad: not ready")
}

func TestRedactDetail(t *testing.T) {
	require.Empty(t, redactDetail(""))
	require.Equal(t, "destinations: being checked\n", redactDetail("destinations: being checked\n"))
	require.Equal(t, "a/b: not ready\nc/d: ok\n",
		redactDetail("a/b: not ready: x: y\nno separator here\nc/d: ok"))
}
