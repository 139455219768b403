//go:build integration

package opensearch_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/opensearch"
	"github.com/hydrant-io/hydrant/sinks/opensearch/searchtest"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
)

// The sink against the real search server, through a sinktest.Proxy that
// Break cuts; documents are read back with _search.
func TestSinktest_SearchServer(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			srv := searchtest.Find(t)
			proxy := sinktest.NewProxy(t, srv.Base.Host)
			index := freshIndex()
			c, err := opensearch.NewClient(opensearch.ClientConfig{Addresses: []string{"http://" + proxy.Addr() + srv.Base.Path},
				Username: srv.Username, Password: srv.Password, Timeout: 10 * time.Second})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			s, err := opensearch.New(c, opensearch.Config{Index: index, DocumentID: docID})
			require.NoError(t, err)
			return &sinktest.Target{
				Sink: s,
				Read: func(t *testing.T) []sinktest.Delivered {
					var out []sinktest.Delivered
					for _, d := range srv.All(t, index) {
						out = append(out, sinktest.Delivered{Data: d.Source, Where: d.Index + "/" + d.ID})
					}
					return out
				},
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
