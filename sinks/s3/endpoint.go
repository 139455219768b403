package s3

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultEndpoint is used when Config.Endpoint is empty: Amazon S3.
const DefaultEndpoint = "https://s3.amazonaws.com"

// parseEndpoint splits an endpoint URL into the host[:port] minio-go wants
// and whether to use TLS. "http://host:port" is plain HTTP, "https://host"
// is TLS, and a bare "host[:port]" means TLS. Paths, queries, fragments and
// credentials in the URL are rejected: they would be silently ignored.
func parseEndpoint(endpoint string) (host string, secure bool, err error) {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("s3 endpoint %q: %w", endpoint, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, fmt.Errorf("s3 endpoint %q: scheme must be http or https", endpoint)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return "", false, fmt.Errorf("s3 endpoint %q: no host", endpoint)
	case u.User != nil:
		return "", false, fmt.Errorf("s3 endpoint %q: credentials belong in access_key_id/secret_access_key, not the URL", endpoint)
	case u.Path != "" && u.Path != "/":
		return "", false, fmt.Errorf("s3 endpoint %q: a path is not supported (use path_style for path-style buckets)", endpoint)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", false, fmt.Errorf("s3 endpoint %q: no query or fragment allowed", endpoint)
	}
	if p := u.Port(); p != "" {
		for _, c := range p {
			if c < '0' || c > '9' {
				return "", false, fmt.Errorf("s3 endpoint %q: bad port", endpoint)
			}
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", false, fmt.Errorf("s3 endpoint %q: empty port", endpoint)
	}
	return u.Host, secure, nil
}
