package configs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const serverTestPipeline = `
stores:
  local: { type: directory, path: /tmp/x }
pipelines:
  - name: p
    destinations:
      - name: d
        type: directory
        store: local
`

func TestServerLimits_Timeouts(t *testing.T) {
	c := mustParse(t, serverTestPipeline, nil)
	require.Equal(t, DefaultReadTimeout, c.Server.Limits.ReadTimeout)
	require.Equal(t, DefaultIdleTimeout, c.Server.Limits.IdleTimeout)
	require.Equal(t, Duration(time.Minute), DefaultReadTimeout)
	require.Equal(t, Duration(2*time.Minute), DefaultIdleTimeout)

	c = mustParse(t, "server:\n  limits: { read_timeout: 5m, idle_timeout: 10s }\n"+serverTestPipeline, nil)
	require.Equal(t, Duration(5*time.Minute), c.Server.Limits.ReadTimeout)
	require.Equal(t, Duration(10*time.Second), c.Server.Limits.IdleTimeout)
}

func TestServerLimits_TimeoutsMustBePositive(t *testing.T) {
	got := parseErrs(t, "server:\n  limits: { read_timeout: 0s, idle_timeout: -1s }\n"+serverTestPipeline, nil)
	require.Equal(t, []string{
		"p.yaml:2:27: server.limits.read_timeout: must be positive",
		"p.yaml:2:45: server.limits.idle_timeout: duration must not be negative",
	}, got)
}

func TestServerAuth_OpenMetrics(t *testing.T) {
	c := mustParse(t, serverTestPipeline, nil)
	require.False(t, c.Server.Auth.OpenMetrics)
	require.True(t, c.Server.Auth.MetricsOpen(), "no credential: every read is open")

	c = mustParse(t, "server:\n  auth: { api_keys: [k] }\n"+serverTestPipeline, nil)
	require.False(t, c.Server.Auth.OpenMetrics, "closed by default once auth is on")
	require.False(t, c.Server.Auth.MetricsOpen())

	c = mustParse(t, "server:\n  auth: { api_keys: [k], open_metrics: true }\n"+serverTestPipeline, nil)
	require.True(t, c.Server.Auth.MetricsOpen())
}

func TestServerAuth_OpenMetricsMustBeABool(t *testing.T) {
	got := parseErrs(t, "server:\n  auth: { api_keys: [k], open_metrics: maybe }\n"+serverTestPipeline, nil)
	require.Len(t, got, 1)
	require.Contains(t, got[0], "p.yaml:2:")
}

func TestLimits_InflightMustHoldALegalRequest(t *testing.T) {
	errs := parseErrs(t, "server:\n  limits: { max_request_bytes: 10MiB, max_inflight_bytes: 16MiB }\n"+head, nil)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "server.limits.max_inflight_bytes: must be at least twice max_request_bytes and at least 16MiB (20MiB)")
	require.Empty(t, parseErrs(t, "server:\n  limits: { max_connections: 10, max_inflight_bytes: 16MiB }\n"+head, nil))
}
