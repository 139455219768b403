package ingest

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// maxClockSkew is how far X-Amz-Date may be from the server clock, as AWS.
const maxClockSkew = 5 * time.Minute

func authError(code, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: msg}
}

// verifySigV4 checks the request's SigV4 signature (any region, service
// firehose) against the configured credentials. The payload hash is always
// computed from the body, never trusted from a header.
func (s *Server) verifySigV4(r *http.Request, body []byte) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return authError(api.ErrMissingAuthToken, "Missing Authentication Token")
	}
	a, err := api.ParseAuthorization(h)
	if err != nil {
		return authError(api.ErrIncompleteSignature,
			"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters with algorithm AWS4-HMAC-SHA256.")
	}
	secret, ok := s.awsCreds[a.AccessKeyID]
	if !ok {
		return authError(api.ErrUnrecognizedClient, "The security token included in the request is invalid.")
	}
	if a.Service != api.SigningName {
		return authError(api.ErrInvalidSignature, "Credential should be scoped to correct service: 'firehose'.")
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return authError(api.ErrInvalidSignature, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return authError(api.ErrIncompleteSignature, "Authorization requires an X-Amz-Date header.")
	}
	t, err := time.Parse(api.AmzDateFormat, amzDate)
	if err != nil {
		return authError(api.ErrIncompleteSignature, "X-Amz-Date must be in the format yyyyMMdd'T'HHmmss'Z'.")
	}
	if a.Date != amzDate[:8] {
		return authError(api.ErrInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '"+a.Date+"' != '"+amzDate[:8]+"'")
	}
	now := s.now().UTC()
	if t.Before(now.Add(-maxClockSkew)) {
		return authError(api.ErrInvalidSignature, "Signature expired: "+amzDate+" is now earlier than "+
			now.Add(-maxClockSkew).Format(api.AmzDateFormat)+" ("+now.Format(api.AmzDateFormat)+" - 5 min.)")
	}
	if t.After(now.Add(maxClockSkew)) {
		return authError(api.ErrInvalidSignature, "Signature not yet current: "+amzDate+" is still later than "+
			now.Add(maxClockSkew).Format(api.AmzDateFormat)+" ("+now.Format(api.AmzDateFormat)+" + 5 min.)")
	}
	cr := api.CanonicalRequest(r, a.SignedHeaders, api.HashHex(body))
	want := api.Signature(secret, a.Date, a.Region, a.Service, api.StringToSign(amzDate, a.Scope(), cr))
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(a.Signature))) != 1 {
		return authError(api.ErrInvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

// Every write door is closed once server.auth names any credential: each
// door accepts the kinds it can carry (doc: docs/security.md).
//
//	Firehose door (POST /)           SigV4 or API key
//	batch door (/v1/streams/...)     SigV4 or API key
//	receiver door (firehose-endpoint) API key in X-Amz-Firehose-Access-Key
//
// A door whose kind is not configured refuses every request, so a
// credential never protects one door while leaving another open.

// authOn reports whether any credential is configured.
func (s *Server) authOn() bool { return len(s.apiKeys) > 0 || len(s.awsCreds) > 0 }

// authenticate checks the credentials of a request to the Firehose or batch
// door before its body is read. needsSigV4 means the request carries a SigV4
// Authorization header the caller must verify once the body is read (the
// signature covers it); API keys are checked here, so an unauthenticated
// client never makes the server buffer its body for nothing.
func (s *Server) authenticate(r *http.Request) (needsSigV4 bool, e *apiError) {
	if !s.authOn() {
		return false, nil
	}
	if key, ok := requestAPIKey(r); ok {
		return false, s.matchAPIKey(key)
	}
	if r.Header.Get("Authorization") != "" && len(s.awsCreds) > 0 {
		return true, nil
	}
	return false, s.missingCredentials()
}

// requestAPIKey returns the key of "Authorization: Bearer KEY" or
// "X-Api-Key: KEY", and whether the request carries one.
func requestAPIKey(r *http.Request) (string, bool) {
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(v), true
	}
	if v := r.Header.Values("X-Api-Key"); len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// missingCredentials is the answer to a request with no credential at all;
// its message names what the server accepts.
func (s *Server) missingCredentials() *apiError {
	var how []string
	if len(s.awsCreds) > 0 {
		how = append(how, "sign the request with AWS SigV4")
	}
	if len(s.apiKeys) > 0 {
		how = append(how, "send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'")
	}
	return &apiError{status: http.StatusUnauthorized, code: api.ErrMissingAuthToken,
		msg: "Missing Authentication Token: " + strings.Join(how, ", or ")}
}

// checkReceiverKey guards the receiver door: Firehose's HTTP-endpoint
// protocol carries only X-Amz-Firehose-Access-Key, matched against the
// API keys. With only AWS credentials configured nothing can match, so the
// door is closed rather than open.
func (s *Server) checkReceiverKey(r *http.Request) *apiError {
	if !s.authOn() {
		return nil
	}
	key := r.Header.Get("X-Amz-Firehose-Access-Key")
	if key == "" {
		msg := "Missing X-Amz-Firehose-Access-Key: set the endpoint's access key to one of server.auth.api_keys"
		if len(s.apiKeys) == 0 {
			msg = "Missing X-Amz-Firehose-Access-Key: this door accepts only server.auth.api_keys, and none is configured"
		}
		return &apiError{status: http.StatusUnauthorized, code: api.ErrMissingAuthToken, msg: msg}
	}
	return s.matchAPIKey(key)
}

// matchAPIKey checks key against the configured API keys. With none
// configured no key can match (authentication is on: some credential is
// configured, just not this kind).
func (s *Server) matchAPIKey(key string) *apiError {
	if key == "" {
		return &apiError{status: http.StatusUnauthorized, code: api.ErrMissingAuthToken, msg: "Missing API key"}
	}
	match := 0
	for _, k := range s.apiKeys { // compare against every key: time does not reveal which matched
		match |= subtle.ConstantTimeCompare(k, []byte(key))
	}
	if match != 1 {
		msg := "The API key is invalid."
		if len(s.apiKeys) == 0 {
			msg = "API keys are not accepted: server.auth.api_keys is empty; sign the request with AWS SigV4"
		}
		return &apiError{status: http.StatusUnauthorized, code: api.ErrUnrecognizedClient, msg: msg}
	}
	return nil
}

// Reads follow the same rule as writes (doc: docs/security.md): once
// server.auth names any credential, the status API (/v1/pipelines) and,
// unless server.auth.open_metrics, /metrics need an API key
// ("Authorization: Bearer KEY" or "X-Api-Key: KEY") or a SigV4 signature
// over the empty body. /healthz and /readyz stay open for probes, but
// /readyz hides the reasons a destination is not ready from callers
// without a credential: error texts may carry record-derived values.

// RequireAuth wraps a read handler: with authentication on, a request
// without a valid credential gets the write doors' JSON error (401 for a
// missing or unknown key, 400 for a bad signature) and never reaches next.
func (s *Server) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := s.authenticateRead(r); e != nil {
			s.writeError(w, r, "application/json", e)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticateRead checks the credentials of a read, which has no body:
// a signature must then cover the empty payload.
func (s *Server) authenticateRead(r *http.Request) *apiError {
	needsSigV4, e := s.authenticate(r)
	if e != nil || !needsSigV4 {
		return e
	}
	return s.verifySigV4(r, nil)
}

// readAuthorized reports whether r may see details withheld from anonymous
// callers: always when authentication is off.
func (s *Server) readAuthorized(r *http.Request) bool { return s.authenticateRead(r) == nil }
