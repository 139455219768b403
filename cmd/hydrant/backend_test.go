package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/jetstream/jstest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// jetstreamYAML is a pipeline file on the JetStream backend at url, in
// testApp's format (%[1]s data directory, %[2]s lake).
func jetstreamYAML(url string) string {
	return strings.ReplaceAll(`
server:
  data_dir: %[1]s
  stream_backend:
    type: jetstream
    urls: [URL]
    node: node-a
    lease_ttl: 2s
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events.v1
    stream: { shards: 2 }
    destinations:
      - { name: lake, type: directory, store: local, buffer: { size: 1MiB, interval: 1s } }
`, "URL", url)
}

func TestJetStreamBackend_ServesDeliversAndReports(t *testing.T) {
	c := jstest.Start(t, 1)
	dir := t.TempDir()
	a := testApp(t, dir, jetstreamYAML(c.URLs()[0]))
	startDelivery(t, a)

	recs := make([]record.Record, 500)
	for i := range recs {
		recs[i] = record.Record{Key: fmt.Sprint(i), Data: []byte(fmt.Sprintf(`{"i":%d}`+"\n", i))}
	}
	require.NoError(t, a.Append(t.Context(), "events.v1", recs))
	for _, r := range recs {
		require.NotEmpty(t, r.ID)
	}
	var st pipelineStatus
	require.Eventually(t, func() bool {
		st = a.status(a.byName["events.v1"])
		return st.Destinations[0].Stats.DeliveredRecords == 500
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, "node-a", st.Node)
	require.ElementsMatch(t, []record.ShardID{"shardId-000000000000", "shardId-000000000001"}, st.Destinations[0].Leases, "a lone node holds every lease")
	require.Equal(t, uint64(500), st.Incoming.Records)

	// Every record is in the lake, once.
	var lines int
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "lake"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		lines += bytes.Count(b, []byte("\n"))
		return err
	}))
	require.Equal(t, 500, lines)

	rec := httptest.NewRecorder()
	a.serveCluster(rec, httptest.NewRequest(http.MethodGet, "/v1/cluster", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var view struct {
		Node   string   `json:"node"`
		Nodes  []string `json:"nodes"`
		Leases []struct {
			Pipeline, Owner string
		} `json:"leases"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &view))
	require.Equal(t, []string{"node-a"}, view.Nodes)
	require.Len(t, view.Leases, 2)
	require.Equal(t, "events.v1", view.Leases[0].Pipeline)
	require.Equal(t, "node-a", view.Leases[0].Owner)

	// Without NATS the server is not ready, and says why.
	c.Stop(0)
	require.Eventually(t, func() bool {
		_, err := a.ready(t.Context())
		return err != nil && strings.Contains(err.Error(), "not connected to NATS")
	}, 10*time.Second, 50*time.Millisecond)
}

func TestJetStreamBackend_ClusterIsNotFoundOnTheLocalLog(t *testing.T) {
	a := testApp(t, t.TempDir(), `
server: { data_dir: "%[1]s" }
stores: { local: { type: directory, path: "%[2]s" } }
pipelines:
  - { name: p, destinations: [{ name: lake, type: directory, store: local }] }
`)
	rec := httptest.NewRecorder()
	a.serveCluster(rec, httptest.NewRequest(http.MethodGet, "/v1/cluster", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), `"__type":"ResourceNotFoundException"`)
}

func TestJetStreamBackend_ValidateChecksTheCluster(t *testing.T) {
	c := jstest.Start(t, 1)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hydrant.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(jetstreamYAML(c.URLs()[0]), filepath.Join(dir, "data"), filepath.Join(dir, "lake"))), 0o644))
	var out, errOut bytes.Buffer
	require.NoError(t, cmdValidate([]string{"--config", cfg, "--check-connections"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "check stream backend: ok")

	c.Stop(0)
	out.Reset()
	require.ErrorIs(t, cmdValidate([]string{"--config", cfg, "--check-connections"}, &out, &errOut), errChecksFailed)
	require.Contains(t, out.String(), "check stream backend: not ready")
}
