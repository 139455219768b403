package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/streams/wal"
	"github.com/hydrant-io/hydrant/streams/wal/waltest"
)

// /readyz lists every destination with the reason one does not answer; an
// unreachable destination does not make the server unready (its records
// wait in the stream), stopping does.
func TestReady_ListsEachDestinationWithItsReason(t *testing.T) {
	closed := closedAddr(t)
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
	require.Contains(t, detail, "events/cloud: not ready")

	a.stopping.Store(true)
	_, err = a.ready(t.Context())
	require.ErrorIs(t, err, errShuttingDown)
}

// A full disk is weather: appends answer backpressure (503 at the doors)
// and /readyz fails with the reason while it lasts; once space is back
// both recover without a restart.
func TestReady_DiskFullIsUnreadyUntilSpaceIsBack(t *testing.T) {
	a := testApp(t, t.TempDir(), `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    destinations:
      - { name: lake, type: directory, store: local }
`)
	// The stream of the pipeline, reopened on a file system that fills up.
	p := a.pipelines[0]
	orig := p.stream
	fsys := &waltest.FullFS{}
	s, err := streams.Open(t.Context(), streams.Options{Dir: t.TempDir(), Name: "events", Consumers: []string{"lake"}, FS: fsys})
	require.NoError(t, err)
	p.stream = s
	t.Cleanup(func() {
		p.stream = orig
		_ = s.Close()
	})

	put := func() error {
		return a.Append(t.Context(), "events", []record.Record{{Data: []byte("x")}})
	}
	require.NoError(t, put())
	_, err = a.ready(t.Context())
	require.NoError(t, err)

	fsys.SetFull(true)
	require.ErrorIs(t, put(), record.ErrBackpressure)
	_, err = a.ready(t.Context())
	require.ErrorIs(t, err, wal.ErrNoSpace)
	require.ErrorContains(t, err, "pipeline events")
	require.ErrorContains(t, err, "no space left on device")

	// Space is back: the log's probe clears the fault with no traffic.
	fsys.SetFull(false)
	require.Eventually(t, func() bool {
		_, err := a.ready(t.Context())
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, put())
}
