// Package admin serves the live delivery dashboard: one self-contained page
// at /ui whose assets are embedded in the binary (no CDN, works offline).
// The page polls GET /v1/pipelines every second and derives rates from
// successive samples, so the server needs no extra endpoint for it.
package admin

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// ui holds the page and its assets; every file is served under /ui/.
//
//go:embed ui
var ui embed.FS

// Prefix is the path the dashboard is served under.
const Prefix = "/ui"

// contentTypes is fixed here rather than taken from package mime, whose
// answer depends on the host's /etc/mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// csp forbids anything not served by Hydrant itself, so a page that
// reaches for a CDN breaks visibly in development rather than offline.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard. Mount it on the server mux at both "/ui"
// and "/ui/" without stripping the prefix: "/ui" and "/ui/" answer the
// page, "/ui/<asset>" an embedded asset, anything else 404.
func Handler() http.Handler {
	sub, err := fs.Sub(ui, "ui")
	if err != nil { // cannot happen: "ui" is a valid, embedded directory
		panic(err)
	}
	return &handler{files: sub, mod: time.Now()}
}

type handler struct {
	files fs.FS
	// mod is the Last-Modified of every asset: embedded files carry no
	// time, and the process start is when they last could have changed.
	mod time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := assetName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctype, known := contentTypes[path.Ext(name)]
	b, err := fs.ReadFile(h.files, name)
	if err != nil || !known {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", csp)
	http.ServeContent(w, r, name, h.mod, bytes.NewReader(b))
}

// assetName maps a request path to a file in ui/; ok is false for paths
// outside the dashboard or ones that try to climb out of it.
func assetName(p string) (name string, ok bool) {
	if p == Prefix || p == Prefix+"/" {
		return "index.html", true
	}
	rest, found := strings.CutPrefix(p, Prefix+"/")
	if !found || rest == "" || !fs.ValidPath(rest) {
		return "", false
	}
	return rest, true
}
