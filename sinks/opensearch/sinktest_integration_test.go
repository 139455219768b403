//go:build integration

package opensearch_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/opensearch"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
)

// searchEnv is where the tests find the search server that
// `scripts/services.sh up` starts (ZincSearch, the OpenSearch-compatible
// server that runs here; see ../shared/services.md).
func searchEnv(t *testing.T) (base *url.URL, user, password string) {
	t.Helper()
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	u, err := url.Parse(get("HYDRANT_SEARCH_URL", "http://127.0.0.1:4080/es"))
	require.NoError(t, err)
	user, password = get("HYDRANT_SEARCH_USER", "admin"), get("HYDRANT_SEARCH_PASSWORD", "Complexpass#123")
	resp, err := http.Get(u.String() + "/")
	if err != nil {
		t.Fatalf("the search server is unreachable at %s (%v): run `make services-up` (scripts/services.sh up) first, or set HYDRANT_SEARCH_URL", u, err)
	}
	resp.Body.Close()
	return u, user, password
}

// The sink against the real search server, through a sinktest.Proxy that
// Break cuts; documents are read back with _search.
func TestSinktest_SearchServer(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			base, user, password := searchEnv(t)
			proxy := sinktest.NewProxy(t, base.Host)
			index := freshIndex()
			c, err := opensearch.NewClient(opensearch.ClientConfig{Addresses: []string{"http://" + proxy.Addr() + base.Path},
				Username: user, Password: password, Timeout: 10 * time.Second})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			s, err := opensearch.New(c, opensearch.Config{Index: index, DocumentID: docID})
			require.NoError(t, err)
			return &sinktest.Target{
				Sink:  s,
				Read:  func(t *testing.T) []sinktest.Delivered { return searchAll(t, base, user, password, index) },
				Break: proxy.Break,
			}
		},
		ExactlyOnce: true,
		Skip: map[string]string{
			"PerRecordFailures": "ZincSearch answers a bad document with 200 and errors:false and drops the rest of the request (services.md); per-item refusals are covered by TestSinktest_OpenSearchSemantics",
			"Misconfigured":     "no setting of an OpenSearch destination is refused by every write; a bad index name is caught by the config",
		},
	})
}

func freshIndex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "sinktest-" + hex.EncodeToString(b)
}

// searchAll returns every document of index. The server makes documents
// visible a moment after a bulk answers, so it reads until the count
// stops changing.
func searchAll(t *testing.T, base *url.URL, user, password, index string) []sinktest.Delivered {
	t.Helper()
	read := func() []sinktest.Delivered {
		body := bytes.NewReader([]byte(`{"query":{"match_all":{}},"size":10000}`))
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base.String()+"/"+index+"/_search", body)
		require.NoError(t, err)
		req.SetBasicAuth(user, password)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest {
			return nil // no index yet
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
		var r struct {
			Hits struct {
				Hits []struct {
					ID     string          `json:"_id"`
					Source json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		require.NoError(t, json.Unmarshal(raw, &r))
		out := make([]sinktest.Delivered, len(r.Hits.Hits))
		for i, h := range r.Hits.Hits {
			// ZincSearch adds the time it indexed a document to its
			// _source; the records under test never carry one.
			var doc map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(h.Source, &doc))
			delete(doc, "@timestamp")
			data, err := json.Marshal(doc)
			require.NoError(t, err)
			out[i] = sinktest.Delivered{Data: data, Where: index + "/" + h.ID}
		}
		return out
	}
	// Until the count holds for a second (ZincSearch makes documents
	// visible about 0.2 s after a bulk, later under load).
	prev, same := read(), 0
	for range 100 {
		time.Sleep(250 * time.Millisecond)
		cur := read()
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
