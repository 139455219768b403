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

// checkAPIKey enforces the plain door's API keys, when configured.
func (s *Server) checkAPIKey(r *http.Request) *apiError {
	key := r.Header.Get("X-Api-Key")
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		key = strings.TrimSpace(v)
	}
	return s.matchAPIKey(key, "send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'")
}

// matchAPIKey checks key against the configured API keys (none: open).
func (s *Server) matchAPIKey(key, how string) *apiError {
	if len(s.apiKeys) == 0 {
		return nil
	}
	if key == "" {
		return &apiError{status: http.StatusUnauthorized, code: api.ErrMissingAuthToken, msg: "Missing API key: " + how}
	}
	match := 0
	for _, k := range s.apiKeys { // compare against every key: time does not reveal which matched
		match |= subtle.ConstantTimeCompare(k, []byte(key))
	}
	if match != 1 {
		return &apiError{status: http.StatusUnauthorized, code: api.ErrUnrecognizedClient, msg: "The API key is invalid."}
	}
	return nil
}
