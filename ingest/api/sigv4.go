package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 pieces shared by the client (signing) and the server (verifying).

// SigV4Algorithm is the only algorithm Hydrant signs and accepts.
const SigV4Algorithm = "AWS4-HMAC-SHA256"

// AmzDateFormat is the X-Amz-Date layout.
const AmzDateFormat = "20060102T150405Z"

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lowercase, as sent (sorted by conforming signers)
	Signature     string   // lowercase hex
}

// Scope returns the credential scope "<date>/<region>/<service>/aws4_request".
func (a Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// ErrMalformedAuthorization is returned by ParseAuthorization.
var ErrMalformedAuthorization = errors.New("malformed SigV4 Authorization header")

// ParseAuthorization parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, SigV4Algorithm+" ")
	if !ok {
		return a, ErrMalformedAuthorization
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, ErrMalformedAuthorization
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" {
				return a, ErrMalformedAuthorization
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKeyID == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return a, ErrMalformedAuthorization
	}
	return a, nil
}

// HashHex returns the lowercase hex SHA-256 of b.
func HashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// CanonicalRequest builds the SigV4 canonical request of r over the given
// signed header names (lowercase) and payload hash.
func CanonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) string {
	var sb strings.Builder
	sb.WriteString(r.Method)
	sb.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	sb.WriteString(path)
	sb.WriteByte('\n')
	sb.WriteString(canonicalQuery(r.URL.Query()))
	sb.WriteByte('\n')
	for _, name := range signedHeaders {
		sb.WriteString(name)
		sb.WriteByte(':')
		sb.WriteString(headerValue(r, name))
		sb.WriteByte('\n')
	}
	sb.WriteByte('\n')
	sb.WriteString(strings.Join(signedHeaders, ";"))
	sb.WriteByte('\n')
	sb.WriteString(payloadHash)
	return sb.String()
}

func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

func uriEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// headerValue returns the canonical value of one signed header: values
// joined by commas, trimmed, inner runs of spaces collapsed. Go's server moves
// Host and sometimes Content-Length out of r.Header, so they are read back.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	default:
		vals = r.Header.Values(name)
		if len(vals) == 0 && name == "content-length" && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	}
	out := make([]string, len(vals)) // never modify r.Header's slice
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// StringToSign builds the SigV4 string to sign.
func StringToSign(amzDate, scope, canonicalRequest string) string {
	return SigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + HashHex([]byte(canonicalRequest))
}

// Signature computes the hex signature of stringToSign.
func Signature(secret, date, region, service, stringToSign string) string {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, stringToSign))
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Credentials are a static AWS access key pair.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// SignRequest signs r (whose body is body) with SigV4 for service firehose,
// setting X-Amz-Date and Authorization. r.Host must be set.
func SignRequest(r *http.Request, body []byte, c Credentials, region string, now time.Time) {
	amzDate := now.UTC().Format(AmzDateFormat)
	r.Header.Set("X-Amz-Date", amzDate)
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	signed := []string{"host", "x-amz-date"}
	for _, h := range []string{"content-type", "x-amz-target"} {
		if r.Header.Get(h) != "" {
			signed = append(signed, h)
		}
	}
	sort.Strings(signed)
	a := Authorization{AccessKeyID: c.AccessKeyID, Date: amzDate[:8], Region: region, Service: SigningName, SignedHeaders: signed}
	cr := CanonicalRequest(r, signed, HashHex(body))
	sig := Signature(c.SecretAccessKey, a.Date, region, SigningName, StringToSign(amzDate, a.Scope(), cr))
	r.Header.Set("Authorization", SigV4Algorithm+" Credential="+c.AccessKeyID+"/"+a.Scope()+
		", SignedHeaders="+strings.Join(signed, ";")+", Signature="+sig)
}
