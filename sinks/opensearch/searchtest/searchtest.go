// Package searchtest finds the test search server that
// `scripts/services.sh up` starts (ZincSearch, the OpenSearch-compatible
// server that runs here; see ../shared/services.md), or the one
// HYDRANT_SEARCH_URL names, for the tests of the opensearch sink and the
// end-to-end tests: where it is, and every document of an index read
// back the way its quirks need.
package searchtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Server is the test search server.
type Server struct {
	// Base is the API's URL, e.g. http://127.0.0.1:4080/es.
	Base               *url.URL
	Username, Password string
}

// Find returns the test search server, failing the test (never skipping
// it) when it does not answer.
func Find(t testing.TB) Server {
	t.Helper()
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	u, err := url.Parse(get("HYDRANT_SEARCH_URL", "http://127.0.0.1:4080/es"))
	require.NoError(t, err)
	s := Server{Base: u, Username: get("HYDRANT_SEARCH_USER", "admin"), Password: get("HYDRANT_SEARCH_PASSWORD", "Complexpass#123")}
	resp, err := http.Get(u.String() + "/")
	if err != nil {
		t.Fatalf("the search server is unreachable at %s (%v): run `make services-up` (scripts/services.sh up) first, or set HYDRANT_SEARCH_URL", u, err)
	}
	resp.Body.Close()
	return s
}

// Doc is one document read back.
type Doc struct {
	Index, ID string
	// Source is the document as indexed, without the @timestamp field
	// ZincSearch adds to every document.
	Source json.RawMessage
}

// All returns every document of the indices index matches (a name or a
// pattern such as events-*). The server makes documents visible a moment
// after a bulk answers, so it reads until the count holds for a second.
func (s Server) All(t testing.TB, index string) []Doc {
	t.Helper()
	prev, same := s.read(t, index), 0
	for range 100 {
		time.Sleep(250 * time.Millisecond)
		cur := s.read(t, index)
		if len(cur) != len(prev) {
			prev, same = cur, 0
			continue
		}
		if same++; same == 4 {
			return cur
		}
	}
	return prev
}

func (s Server) read(t testing.TB, index string) []Doc {
	t.Helper()
	body := bytes.NewReader([]byte(`{"query":{"match_all":{}},"size":10000}`))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.Base.String()+"/"+index+"/_search", body)
	require.NoError(t, err)
	req.SetBasicAuth(s.Username, s.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest {
		return nil // no such index yet
	}
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var r struct {
		Hits struct {
			Hits []struct {
				Index  string          `json:"_index"`
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	require.NoError(t, json.Unmarshal(raw, &r))
	out := make([]Doc, len(r.Hits.Hits))
	for i, h := range r.Hits.Hits {
		var doc map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(h.Source, &doc))
		delete(doc, "@timestamp")
		src, err := json.Marshal(doc)
		require.NoError(t, err)
		out[i] = Doc{Index: h.Index, ID: h.ID, Source: src}
	}
	return out
}
