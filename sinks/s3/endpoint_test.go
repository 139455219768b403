package s3

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		host    string
		secure  bool
		wantErr string
	}{
		{in: "http://127.0.0.1:9000", host: "127.0.0.1:9000"},
		{in: "http://127.0.0.1:9000/", host: "127.0.0.1:9000"},
		{in: "HTTP://minio:9000", host: "minio:9000"},
		{in: "https://s3.eu-west-1.amazonaws.com", host: "s3.eu-west-1.amazonaws.com", secure: true},
		{in: "s3.amazonaws.com", host: "s3.amazonaws.com", secure: true},
		{in: "minio.internal:9443", host: "minio.internal:9443", secure: true},
		{in: "", host: "s3.amazonaws.com", secure: true},
		{in: "http://[::1]:9000", host: "[::1]:9000"},
		{in: "ftp://host", wantErr: "scheme"},
		{in: "http://", wantErr: "no host"},
		{in: "http://:9000", wantErr: "no host"},
		{in: "http://host:", wantErr: "empty port"},
		{in: "http://user:pw@host", wantErr: "credentials"},
		{in: "http://host/bucket", wantErr: "path"},
		{in: "http://host?x=1", wantErr: "query"},
		{in: "http://host#frag", wantErr: "fragment"},
		{in: "http://host:port", wantErr: "port"},
		{in: "http://host name", wantErr: "s3 endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			host, secure, err := parseEndpoint(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.host, host)
			require.Equal(t, tt.secure, secure)
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults", cfg: Config{}},
		{name: "minio", cfg: Config{Endpoint: "http://127.0.0.1:9000", AccessKeyID: "a", SecretAccessKey: "b", PathStyle: true}},
		{name: "part too small", cfg: Config{PartSize: MinPartSize - 1}, wantErr: "part size"},
		{name: "part too large", cfg: Config{PartSize: MaxPartSize + 1}, wantErr: "part size"},
		{name: "half credentials", cfg: Config{AccessKeyID: "a"}, wantErr: "go together"},
		{name: "bad endpoint", cfg: Config{Endpoint: "ftp://x"}, wantErr: "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			want := tt.cfg.PartSize
			if want == 0 {
				want = DefaultPartSize
			}
			require.Equal(t, want, s.PartSize())
		})
	}
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9000", "https://s3.amazonaws.com/", "host:1", "", "http://[::1]:9000", "http://a@b", "http://h/p?q#f", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		host, _, err := parseEndpoint(in)
		if err != nil {
			return
		}
		if host == "" || strings.ContainsAny(host, "/?#@") {
			t.Fatalf("parseEndpoint(%q) accepted host %q", in, host)
		}
	})
}
