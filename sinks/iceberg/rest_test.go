package iceberg

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// No Iceberg REST catalog server runs here: a fake one that answers the
// two calls Check makes shows that a rest store reaches its catalog with
// the configured token and warehouse, and that a refusal is reported.
func TestRESTCatalog_CheckSendsTokenAndWarehouse(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization")+" warehouse="+r.URL.Query().Get("warehouse"))
		no := refuse
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case no:
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "not allowed", "type": "ForbiddenException", "code": 403}})
		case r.URL.Path == "/v1/config":
			_ = json.NewEncoder(w).Encode(map[string]any{"defaults": map[string]string{}, "overrides": map[string]string{}})
		case r.URL.Path == "/v1/namespaces":
			_ = json.NewEncoder(w).Encode(map[string]any{"namespaces": [][]string{{"analytics"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	c, err := NewCatalog(CatalogConfig{Name: "rest", Kind: "rest", URI: srv.URL, Warehouse: "s3://lake/wh", Token: "secret-token"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Check(t.Context()))
	mu.Lock()
	require.Contains(t, seen, "GET /v1/config auth=Bearer secret-token warehouse=s3://lake/wh")
	require.Contains(t, seen, "GET /v1/namespaces auth=Bearer secret-token warehouse=")
	refuse = true
	mu.Unlock()
	err = c.Check(t.Context())
	require.ErrorContains(t, err, "list namespaces")
	require.ErrorContains(t, err, "not allowed")

	_, err = NewCatalog(CatalogConfig{Kind: "hive"})
	require.ErrorContains(t, err, `catalog "hive" (want sql or rest)`)
}
