package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// /readyz lists every destination with the reason one does not answer; an
// unreachable destination does not make the server unready (its records
// wait in the stream), stopping does.
func TestReady_ListsEachDestinationWithItsReason(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	a := testApp(t, t.TempDir(), `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
  gone: { type: s3, endpoint: "http://`+closed+`", access_key_id: a, secret_access_key: b }
pipelines:
  - name: events
    destinations:
      - { name: lake, type: directory, store: local }
      - { name: cloud, type: s3, store: gone, bucket: logs }
`)
	// The first probe starts a round of checks in the background and
	// answers at once; a later probe reads its result.
	detail, err := a.ready(t.Context())
	require.NoError(t, err)
	require.Equal(t, "destinations: being checked\n", detail)
	a.readiness.wg.Wait()
	detail, err = a.ready(t.Context())
	require.NoError(t, err)
	require.Contains(t, detail, "events/lake: ok\n")
	require.Contains(t, detail, "events/cloud: not reachable")

	a.stopping.Store(true)
	_, err = a.ready(t.Context())
	require.ErrorIs(t, err, errShuttingDown)
}
