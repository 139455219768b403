//go:build integration

package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// searchServer is the search server `scripts/services.sh up` starts
// (ZincSearch, serving an OpenSearch-compatible subset under /es; see
// ../shared/services.md).
type searchServer struct {
	url, user, password string
}

// searchEnv finds the search server; it fails (never skips) when it is
// unreachable.
func searchEnv(t *testing.T) searchServer {
	t.Helper()
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	s := searchServer{
		url:      strings.TrimSuffix(get("HYDRANT_SEARCH_URL", "http://127.0.0.1:4080/es"), "/"),
		user:     get("HYDRANT_SEARCH_USER", "admin"),
		password: get("HYDRANT_SEARCH_PASSWORD", "Complexpass#123"),
	}
	resp, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatalf("the search server is unreachable at %s (%v): run `make services-up` (scripts/services.sh up) first, or set HYDRANT_SEARCH_URL", s.url, err)
	}
	resp.Body.Close()
	return s
}

// freshIndex returns a new random index name and deletes the index when
// the test ends (through ZincSearch's own API: its /es subset has no
// DELETE /{index}; best effort).
func (s searchServer) freshIndex(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	index := prefix + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		root := strings.TrimSuffix(s.url, "/es")
		req, err := http.NewRequest(http.MethodDelete, root+"/api/index/"+index, nil)
		if err != nil {
			return
		}
		req.SetBasicAuth(s.user, s.password)
		c := http.Client{Timeout: 10 * time.Second}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	return index
}

// searchHit is one document: its _id and its _source without the
// @timestamp the server adds.
type searchHit struct {
	ID     string
	Source map[string]json.RawMessage
}

// search returns up to 10,000 documents of index; err is set when the
// server did not answer well (it may be down), and hits is nil without an
// error while the index does not exist yet.
func (s searchServer) search(t *testing.T, index string) (hits []searchHit, err error) {
	t.Helper()
	body := bytes.NewReader([]byte(`{"query":{"match_all":{}},"size":10000}`))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/"+index+"/_search", body)
	require.NoError(t, err)
	req.SetBasicAuth(s.user, s.password)
	req.Header.Set("Content-Type", "application/json")
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest {
		return nil, nil // no index yet
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("_search: %s: %s", resp.Status, raw)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	require.NoError(t, json.Unmarshal(raw, &r))
	hits = make([]searchHit, len(r.Hits.Hits))
	for i, h := range r.Hits.Hits {
		var doc map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(h.Source, &doc), string(h.Source))
		delete(doc, "@timestamp")
		hits[i] = searchHit{ID: h.ID, Source: doc}
	}
	return hits, nil
}

// searchWaitIDs waits until the pipeline "events" has nothing left to
// deliver and every id of want is a document of index, then until the
// document count holds (documents become visible a moment after a bulk
// answers), and returns the documents.
func (s searchServer) searchWaitIDs(t *testing.T, addr, index string, want map[string]bool) []searchHit {
	t.Helper()
	var hits []searchHit
	waitDelivered(t, addr, index, want, func() (map[string]int, error) {
		var err error
		if hits, err = s.search(t, index); err != nil {
			return nil, err
		}
		counts := map[string]int{}
		for _, h := range hits {
			counts[h.ID]++
		}
		return counts, nil
	})
	// The count must hold over a few reads: a late bulk would add more.
	for stable := 0; stable < 3; {
		time.Sleep(500 * time.Millisecond)
		again, err := s.search(t, index)
		require.NoError(t, err)
		if len(again) == len(hits) {
			stable++
		} else {
			stable = 0
		}
		hits = again
	}
	return hits
}

// osConfig writes a configuration with one pipeline "events" of shards
// shards and one opensearch destination "search" into index (rotation
// none, document id .id). Failed records go to the default backup store
// at <dir>/data/backup.
func osConfig(t *testing.T, dir, addr string, s searchServer, shards int, index string) string {
	t.Helper()
	return writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  search: { type: opensearch, addresses: [ %q ], username: %q, password: %q }
pipelines:
  - name: events
    stream: { shards: %d }
    destinations:
      - name: search
        type: opensearch
        store: search
        index: %s
        rotation: none
        document_id: .id
        buffer: { size: 1MiB, interval: 1s }
        retry: { duration: 1h }
`, addr, filepath.Join(dir, "data"), s.url, s.user, s.password, shards, index))
}

// requireNoBackups requires that nothing was written under the backup
// directory root, logging the first few failed records if some were.
func requireNoBackups(t *testing.T, root string) {
	t.Helper()
	backups := pgBackups(t, root)
	for i, b := range backups {
		if i >= 5 {
			break
		}
		t.Logf("backup %s: %s: %s", b.Key, b.ErrorCode, b.ErrorMessage)
	}
	require.Empty(t, backups, "no record goes to the backup")
}
