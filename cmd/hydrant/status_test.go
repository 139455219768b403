package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const statusDoc = repoRoot + "/docs/status-api.md"

var (
	snakeKey     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	errorTypeKey = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// backedUpKey is the one object whose keys are data (error output types,
// e.g. "s3-failed"), not field names.
const backedUpKey = "backed_up_records"

// getJSON fetches url and decodes its body generically.
func getJSON(t *testing.T, url string) any {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var v any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

// walkKeys checks every object key under v, recursively: field names must be
// snake_case, the keys of backed_up_records error output types. It returns
// the field names and the error output types it saw.
func walkKeys(t *testing.T, v any) (fields, errorTypes map[string]bool) {
	t.Helper()
	fields, errorTypes = map[string]bool{}, map[string]bool{}
	var walk func(path string, v any, parent string)
	walk = func(path string, v any, parent string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := path + "." + k
				if parent == backedUpKey {
					require.Regexp(t, errorTypeKey, k, "%s: an error output type", p)
					errorTypes[k] = true
				} else {
					require.Regexp(t, snakeKey, k, "%s: a field name must be snake_case", p)
					fields[k] = true
				}
				walk(p, e, k)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e, "")
			}
		}
	}
	walk("$", v, "")
	return fields, errorTypes
}

// requireDocumented fails unless every field name appears, in backquotes,
// in docs/status-api.md.
func requireDocumented(t *testing.T, fields map[string]bool) {
	t.Helper()
	doc, err := os.ReadFile(statusDoc)
	require.NoError(t, err)
	var undocumented []string
	for k := range fields {
		if !strings.Contains(string(doc), "`"+k+"`") {
			undocumented = append(undocumented, k)
		}
	}
	sort.Strings(undocumented)
	require.Empty(t, undocumented, "fields missing from %s", statusDoc)
}

// The status API speaks one JSON style: every field name is snake_case, at
// every depth (shards, backlog, stats, recent failures), and every one is
// documented in docs/status-api.md.
func TestStatusAPI_EveryKeyIsSnakeCase(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked")
	a := testApp(t, dir, `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
  blocked: { type: directory, path: `+blocked+` }
pipelines:
  - name: events
    stream: { shards: 2 }
    processors:
      - { type: jq_metadata, partition_keys: { k: .k } }
    destinations:
      - { name: lake, type: directory, store: local, prefix: "ok/", buffer: { size: 1MiB, interval: 0s } }
      - name: broken
        type: directory
        store: blocked
        prefix: "k=!{partitionKeyFromQuery:k}/"
        buffer: { size: 1MiB, interval: 0s }
        retry: { duration: 0s }
        backup: { store: local, prefix: "source/" }
`)
	blockStore(t, blocked) // every write to "broken" fails; its records go to the backup
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	h := a.handler()
	const good, noKey = 30, 4
	var lines []string
	for i := range good {
		lines = append(lines, fmt.Sprintf(`{"k":"p%d","i":%d}`, i%3, i))
	}
	for i := range noKey {
		lines = append(lines, fmt.Sprintf(`{"i":%d}`, i))
	}
	putLines(t, h, "events", lines)
	startDelivery(t, a)

	// Wait, through the API's own shape, until both destinations resolved
	// every record: then failures, backups and timestamps are all filled in.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := resolvedRecords(t.Context(), srv.Client(), srv.URL, "events")
		require.NoError(t, err)
		if n == good+noKey {
			break
		}
		require.True(t, time.Now().Before(deadline), "only %d of %d records resolved", n, good+noKey)
		time.Sleep(10 * time.Millisecond)
	}

	for _, path := range []string{"/v1/pipelines", "/v1/pipelines/events"} {
		t.Run(path, func(t *testing.T) {
			fields, errorTypes := walkKeys(t, getJSON(t, srv.URL+path))
			// The walk reached every nested object, not just empty lists.
			for _, k := range []string{
				"name", "incoming", "shards", "destinations",
				"id", "starting_hash_key", "next_seq", "drained",
				"backlog", "shard", "oldest",
				"stats", "delivered_records", backedUpKey, "processing_seconds", "last_delivery",
				"recent_failures", "at", "type", "error",
			} {
				require.True(t, fields[k], "the response has no %q", k)
			}
			require.Equal(t, map[string]bool{"s3-failed": true, "partition-key-failed": true}, errorTypes)
			requireDocumented(t, fields)
		})
	}

	// The server's own status type (what hydrant bench decodes) reads the
	// same JSON back.
	var st pipelineStatus
	resp, err := http.Get(srv.URL + "/v1/pipelines/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	require.Len(t, st.Destinations, 2)
	lake, broken := st.Destinations[0].Stats, st.Destinations[1].Stats
	require.Equal(t, int64(good), lake.DeliveredRecords)
	require.Equal(t, map[string]int64{"partition-key-failed": noKey}, lake.BackedUpRecords)
	require.False(t, lake.LastDelivery.IsZero())
	require.Equal(t, int64(0), broken.DeliveredRecords)
	require.Equal(t, map[string]int64{"s3-failed": good, "partition-key-failed": noKey}, broken.BackedUpRecords)
	require.NotEmpty(t, broken.RecentFailures)
	require.False(t, broken.RecentFailures[0].At.IsZero())
	require.NotEmpty(t, broken.RecentFailures[0].Error)
	require.Len(t, st.Shards, 2)
	require.NotEmpty(t, st.Shards[0].ID)
	require.NotEmpty(t, st.Shards[0].StartingHashKey)
	require.Equal(t, uint64(good+noKey), st.Shards[0].NextSeq+st.Shards[1].NextSeq)
}
