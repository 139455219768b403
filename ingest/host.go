package ingest

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// GuardHost refuses, with 403 AccessDeniedException, requests whose Host is
// not a loopback name or address (localhost, *.localhost, 127.0.0.0/8,
// ::1) or one of names. Serve wraps every route with it when listening on
// loopback: a web page whose own name an attacker re-points at 127.0.0.1
// (DNS rebinding) sends that name, so it can neither write nor read.
func (s *Server) GuardHost(next http.Handler, names ...string) http.Handler {
	allowed := make([]string, 0, len(names))
	for _, n := range names {
		allowed = append(allowed, normHost(n))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, allowed) {
			s.writeError(w, r, "application/json", &apiError{status: http.StatusForbidden, code: api.ErrAccessDenied,
				msg: "Host " + strconv.Quote(r.Host) + " is not allowed: this server listens on loopback and accepts only loopback names (DNS rebinding protection)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func normHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// hostAllowed reports whether a Host header names a loopback server. An
// empty Host (HTTP/1.0) does not come from a browser and passes.
func hostAllowed(hostport string, names []string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.ContainsAny(hostport, "[]") {
		return false // a malformed bracketed address
	}
	host = normHost(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || slices.Contains(names, host) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
