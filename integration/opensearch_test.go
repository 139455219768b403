//go:build integration

package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hydrant-io/hydrant/sinks/opensearch/searchtest"
	"github.com/stretchr/testify/require"
)

// TestOpenSearch_DocumentsArriveFieldByField sends 2,000 records with
// typed fields (strings with escapes and non-ASCII, integers, floats,
// booleans, null, arrays, nested objects) through the batch door to an
// opensearch destination with document_id .id, and reads every document
// back with _search: each record is one document under its id, equal to
// the record field by field (the server's own @timestamp aside).
func TestOpenSearch_DocumentsArriveFieldByField(t *testing.T) {
	const total = 2000
	search := searchEnv(t)
	index := search.freshIndex(t, "it-fields")
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := osConfig(t, dir, addr, search, 2, index)
	srv := startServer(t, cfg, addr)

	sent := map[string]string{} // id -> the record as sent
	var lines []string
	for i := range total {
		id := fmt.Sprintf("doc-%05d", i)
		rec := map[string]any{
			"id":     id,
			"n":      i,
			"neg":    -i * 7,
			"price":  float64(i) + 0.25,
			"ok":     i%3 == 0,
			"name":   fmt.Sprintf("naïve \"quoted\" café №%d\ttab", i),
			"tags":   []string{"t" + fmt.Sprint(i%5), "all"},
			"nested": map[string]any{"level": i % 10, "label": fmt.Sprintf("L%d", i%10)},
		}
		if i%10 == 0 {
			rec["maybe"] = nil
		}
		b, err := json.Marshal(rec)
		require.NoError(t, err)
		sent[id] = string(b)
		lines = append(lines, string(b))
	}
	for i := 0; i < len(lines); i += 200 {
		resp, body, err := putNDJSON(t.Context(), addr, "events", lines[i:min(i+200, len(lines))])
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	}

	want := map[string]bool{}
	for id := range sent {
		want[id] = true
	}
	hits := search.searchWaitIDs(t, addr, index, want)
	require.NoError(t, srv.stop())
	require.Len(t, hits, total, "one document per record")

	fields := 0
	for _, h := range hits {
		rec, ok := sent[h.ID]
		require.True(t, ok, "document with an id never sent: %q", h.ID)
		var wantDoc map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(rec), &wantDoc))
		require.Len(t, h.Source, len(wantDoc), "document %s has the record's fields: %v", h.ID, h.Source)
		for k, raw := range wantDoc {
			got, ok := h.Source[k]
			require.True(t, ok, "document %s lacks field %q", h.ID, k)
			var w, g any
			require.NoError(t, json.Unmarshal(raw, &w))
			require.NoError(t, json.Unmarshal(got, &g))
			require.Equal(t, w, g, "document %s field %q", h.ID, k)
			fields++
		}
	}
	requireNoBackups(t, filepath.Join(dir, "data", "backup"))
	t.Logf("records=%d documents=%d fields compared=%d", total, len(hits), fields)
}

// TestOpenSearch_KillNineWithDocumentIDsLeavesNoDuplicates loads a
// 2-shard pipeline with document_id .id over both doors, killing the
// server with SIGKILL at random moments and restarting it on the same
// data dir; at the end every acknowledged id is in the index, each id
// once, and nothing went to the backup: the redelivery after a crash
// overwrites the documents the killed process had already indexed.
func TestOpenSearch_KillNineWithDocumentIDsLeavesNoDuplicates(t *testing.T) {
	const (
		total     = 9_000 // one _search (size 10,000) reads them all
		kills     = 3
		producers = 4
	)
	search := searchEnv(t)
	index := search.freshIndex(t, "it-kill")
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := osConfig(t, dir, addr, search, 2, index)

	load := newPGLoad(total)
	srv, acked := killNineRounds(t, cfg, addr, load, kills, producers, total, 300*time.Millisecond)

	hits := search.searchWaitIDs(t, addr, index, acked)
	require.NoError(t, srv.stop())

	valid := map[string]bool{}
	for i := range total {
		valid[pgID(i)] = true
	}
	counts := map[string]int{}
	for _, h := range hits {
		require.True(t, valid[h.ID], "document with an id never sent: %q", h.ID)
		var id string
		require.NoError(t, json.Unmarshal(h.Source["id"], &id), "document %s", h.ID)
		require.Equal(t, h.ID, id, "the document's _id is its record's id")
		counts[h.ID]++
	}
	dups := 0
	for _, n := range counts {
		dups += n - 1
	}
	for id := range acked {
		require.Equal(t, 1, counts[id], "acknowledged id %s", id)
	}
	require.Zero(t, dups, "ids indexed more than once")
	require.Len(t, hits, len(counts), "document count == distinct ids")
	requireNoBackups(t, filepath.Join(dir, "data", "backup"))
	for i, f := range load.failed() {
		if i < 8 {
			t.Logf("not acknowledged: %s", f)
		}
	}
	t.Logf("kills=%d sent=%d acknowledged=%d documents=%d distinct ids=%d duplicates=%d unacknowledged but indexed=%d",
		kills, total, len(acked), len(hits), len(counts), dups, len(counts)-len(acked))
}

// TestOpenSearch_ServerOutageLosesNothing stops the search server for
// about 5 s while records keep arriving: the server keeps accepting
// them, and once the search server is back every acknowledged record is
// indexed, once, and nothing went to the backup.
func TestOpenSearch_ServerOutageLosesNothing(t *testing.T) {
	search := searchEnv(t)
	index := search.freshIndex(t, "it-outage")
	// Registered after freshIndex: cleanups run last first, so the search
	// server is up again before the index is deleted, even on failure.
	t.Cleanup(func() {
		if out, err := pgServices("search-start"); err != nil {
			t.Errorf("restart the search server: %v\n%s", err, out)
		}
	})
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := osConfig(t, dir, addr, search, 2, index)
	srv := startServer(t, cfg, addr)

	// Paced (about 400 records a second) so that the ~10 s of load stay
	// under what one _search (size 10,000) reads.
	load := newPGLoad(9_000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		load.run(t.Context(), addr, 4, 0, 9_000, time.Second)
	}()
	defer load.stop()

	before, during, after := outageDuringLoad(t, load, "search-stop", "search-start")
	<-done
	acked := load.ackedIDs()
	sent := load.sent()
	require.Positive(t, before)
	require.Positive(t, during, "records are accepted while the search server is down")
	require.Positive(t, after)
	require.Less(t, sent, 10_000, "one _search reads them all")

	hits := search.searchWaitIDs(t, addr, index, acked)
	st, _ := pgGetStatus(addr, "events")
	require.NoError(t, srv.stop())
	counts := map[string]int{}
	for _, h := range hits {
		counts[h.ID]++
	}
	for id, n := range counts {
		require.Equal(t, 1, n, "id %s", id)
	}
	for id := range acked {
		require.Equal(t, 1, counts[id], "acknowledged id %s", id)
	}
	requireNoBackups(t, filepath.Join(dir, "data", "backup"))
	var failed int64
	if len(st.Destinations) > 0 {
		failed = st.Destinations[0].Stats.FailedAttempts
	}
	t.Logf("sent=%d acknowledged=%d documents=%d failed attempts=%d", sent, len(acked), len(hits), failed)
	require.Positive(t, failed, "the outage made deliveries fail and retry")
}

// TestOpenSearch_MappingConflictBacksUpExactlyTheConflictingDocuments runs
// the binary against a cluster with OpenSearch's per-item _bulk semantics
// (searchtest.Fake; ZincSearch cannot refuse one item of a bulk): the
// documents whose field conflicts with the index's mapping go to the
// backup as opensearch-failed with the cluster's error, byte for byte,
// and the rest of the same flush is indexed.
func TestOpenSearch_MappingConflictBacksUpExactlyTheConflictingDocuments(t *testing.T) {
	fake := searchtest.NewFake()
	fake.Types["conflicts"] = map[string]string{"n": "float64"} // the index maps n as a number
	cluster := httptest.NewServer(fake)
	defer cluster.Close()
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server: { listen: %s, data_dir: %s }
stores:
  search: { type: opensearch, addresses: [ %q ] }
  errors: { type: directory, path: %s }
pipelines:
  - name: events
    stream: { shards: 1 }
    destinations:
      - name: search
        type: opensearch
        store: search
        index: conflicts
        rotation: none
        document_id: .id
        buffer: { size: 1MiB, interval: 0s }
        backup: { store: errors }
`, addr, filepath.Join(dir, "data"), cluster.URL, filepath.Join(dir, "errors")))
	srv := startServer(t, cfg, addr)

	good := []string{`{"id":"g1","n":1}`, `{"id":"g2","n":2.5}`, `{"id":"g3","n":3,"s":"x"}`}
	bad := []string{`{"id":"b1","n":"one"}`, `{"id":"b2","n":{"v":2}}`}
	resp, body, err := putNDJSON(t.Context(), addr, "events", append(append([]string{}, good...), bad...))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	var backups []pgBackup
	waitFor(t, time.Minute, "the conflicting documents in the backup", func() bool {
		backups = pgBackups(t, filepath.Join(dir, "errors"))
		return len(backups) >= len(bad)
	})
	waitFor(t, time.Minute, "the good documents indexed", func() bool { return len(fake.All()) == len(good) })
	require.NoError(t, srv.stop())

	docs := fake.All()
	require.Len(t, docs, len(good), "exactly the good documents are indexed")
	for _, g := range good {
		var d struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(g), &d))
		require.JSONEq(t, g, string(docs["conflicts/"+d.ID]))
	}
	require.Len(t, backups, len(bad), "exactly the conflicting documents are backed up")
	want := map[string]bool{bad[0]: true, bad[1]: true}
	for _, b := range backups {
		raw, err := base64.StdEncoding.DecodeString(b.RawData)
		require.NoError(t, err)
		require.True(t, want[string(raw)], "backed up %q", raw)
		delete(want, string(raw))
		require.True(t, strings.HasPrefix(b.Key, "opensearch-failed/"), "key %s", b.Key)
		require.Contains(t, b.ErrorMessage, "mapper_parsing_exception")
		t.Logf("%s -> %s: %s: %s", raw, b.Key, b.ErrorCode, b.ErrorMessage)
	}
}
