package admin

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, target, nil))
	return rec
}

// embedded returns every file under ui/ with its contents.
func embedded(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(ui, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui, p)
		out[strings.TrimPrefix(p, "ui/")] = string(b)
		return err
	})
	require.NoError(t, err)
	require.Contains(t, out, "index.html")
	return out
}

func TestHandlerServesPage(t *testing.T) {
	h := Handler()
	for _, target := range []string{"/ui", "/ui/", "/ui/index.html"} {
		t.Run(target, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, target)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			require.Contains(t, rec.Header().Get("Content-Security-Policy"), "connect-src 'self'")
			require.Contains(t, rec.Body.String(), `<script src="/ui/app.js"`)
		})
	}
}

func TestHandlerHead(t *testing.T) {
	rec := get(t, Handler(), http.MethodHead, "/ui")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Body.String())
}

func TestAssetsServedWithContentType(t *testing.T) {
	h := Handler()
	for name, body := range embedded(t) {
		t.Run(name, func(t *testing.T) {
			want, ok := contentTypes[path.Ext(name)]
			require.True(t, ok, "embedded file %s has no content type and would 404", name)
			rec := get(t, h, http.MethodGet, Prefix+"/"+name)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, want, rec.Header().Get("Content-Type"))
			require.Equal(t, body, rec.Body.String())
		})
	}
}

func TestUnknownPaths(t *testing.T) {
	h := Handler()
	for _, target := range []string{
		"/ui/nope.js",
		"/ui/app.js/",
		"/ui/../admin.go",
		"/ui/./app.js",
		"/ui//app.js",
		"/ui/ui/app.js",
		"/uiapp.js",
		"/",
		"/v1/pipelines",
	} {
		t.Run(target, func(t *testing.T) {
			require.Equal(t, http.StatusNotFound, get(t, h, http.MethodGet, target).Code)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	rec := get(t, Handler(), http.MethodPost, "/ui")
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

// The page must work offline: nothing it loads may come from another host.
func TestNoExternalReferences(t *testing.T) {
	// An XML namespace name is an identifier, never fetched.
	const svgNS = `xmlns="http://www.w3.org/2000/svg"`
	external := regexp.MustCompile(`(?i)https?://|(src|href)\s*=\s*["']?//|url\(\s*["']?//|@import|@font-face`)
	for name, body := range embedded(t) {
		body = strings.ReplaceAll(body, svgNS, "")
		require.Empty(t, external.FindAllString(body, -1), "%s references something external", name)
	}
}

// Every src and href on the page must resolve to an embedded asset.
func TestPageReferencesResolve(t *testing.T) {
	h := Handler()
	page := embedded(t)["index.html"]
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	require.NotEmpty(t, refs)
	for _, m := range refs {
		require.True(t, strings.HasPrefix(m[1], Prefix+"/"), "reference %q is not under %s/", m[1], Prefix)
		require.Equal(t, http.StatusOK, get(t, h, http.MethodGet, m[1]).Code, m[1])
	}
}

// The data-metric names are the contract a browser test reads; the script
// must fill only names the page declares.
func TestMetricNames(t *testing.T) {
	files := embedded(t)
	page, script := files["index.html"], files["app.js"]
	declared := map[string]bool{}
	for _, m := range regexp.MustCompile(`data-metric="([a-z-]+)"`).FindAllStringSubmatch(page, -1) {
		declared[m[1]] = true
	}
	for _, name := range []string{
		"connection", "last-update",
		"incoming-records-per-sec", "incoming-mb-per-sec", "incoming-records", "shards", "open-shards",
		"delivered-records-per-sec", "delivered-mb-per-sec", "delivered-records", "delivered-bytes",
		"freshness-seconds", "success-ratio", "backlog-records", "backlog-bytes",
		"succeeded-attempts", "failed-attempts", "dropped-records", "last-delivery",
		"backed-up-records", "failure-count",
	} {
		require.True(t, declared[name], "page lacks data-metric=%q", name)
	}
	used := regexp.MustCompile(`\.m\('([a-z-]+)'\)`).FindAllStringSubmatch(script, -1)
	require.NotEmpty(t, used)
	for _, m := range used {
		require.True(t, declared[m[1]], "app.js fills data-metric=%q, which index.html does not declare", m[1])
	}
}

// The status API's field names are snake_case (docs/status-api.md): the
// script must not read Go-style names such as s.NextSeq or st.DeliveredRecords,
// which the server no longer sends.
func TestScriptReadsSnakeCaseFields(t *testing.T) {
	script := regexp.MustCompile(`//[^\n]*`).ReplaceAllString(embedded(t)["app.js"], "")
	require.Contains(t, script, "st.delivered_records")
	require.Empty(t, regexp.MustCompile(`\b[a-z]\w*\.[A-Z]\w*`).FindAllString(script, -1),
		"app.js reads a field that is not snake_case")
}

// Strings from the server reach the DOM only as text.
func TestScriptNeverParsesHTML(t *testing.T) {
	unsafe := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`)
	for name, body := range embedded(t) {
		if path.Ext(name) == ".js" {
			require.Empty(t, unsafe.FindAllString(body, -1), name)
		}
	}
}

func FuzzAssetName(f *testing.F) {
	for _, s := range []string{"/ui", "/ui/", "/ui/app.js", "/ui/../x", "/ui//a", "/uix", "", "/ui/a/b.css", "/ui/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, ok := assetName(p)
		if !ok {
			require.Empty(t, name)
			return
		}
		require.True(t, fs.ValidPath(name), "%q maps to invalid %q", p, name)
		require.True(t, strings.HasPrefix(p, Prefix), "%q is outside %s", p, Prefix)
	})
}
