package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
)

// fakeS3 answers every request with one S3 error, and records what it saw.
type fakeS3 struct {
	status     int
	code       string
	retryAfter string

	mu   sync.Mutex
	reqs []string // "METHOD path?query"
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(f.status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake %s</Message><Resource>%s</Resource><RequestId>1</RequestId></Error>`,
		f.code, f.code, r.URL.Path)
}

func (f *fakeS3) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func testStore(t *testing.T, endpoint string) *Store {
	t.Helper()
	s, err := New(Config{
		Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "key", SecretAccessKey: "secret",
		PartSize: MinPartSize, MaxRetries: 1,
	})
	require.NoError(t, err)
	return s
}

func TestPutErrorClassification(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		code       string
		retryAfter string
		permanent  bool
		after      time.Duration // > 0: a *sinks.RetryAfterError with this delay
		inMessage  string
	}{
		{name: "slow down with hint", status: 503, code: "SlowDown", retryAfter: "7", after: 7 * time.Second},
		{name: "slow down without hint", status: 503, code: "SlowDown"},
		{name: "too many requests", status: 429, code: "TooManyRequests", retryAfter: "2", after: 2 * time.Second},
		{name: "internal error", status: 500, code: "InternalError"},
		{name: "service unavailable", status: 503, code: "ServiceUnavailable", retryAfter: "1", after: time.Second},
		{name: "access denied", status: 403, code: "AccessDenied", retryAfter: "5", inMessage: "bucket or IAM policy"},
		{name: "no such bucket", status: 404, code: "NoSuchBucket", inMessage: "create it"},
		{name: "unknown key id", status: 403, code: "InvalidAccessKeyId", inMessage: "fix access_key_id"},
		{name: "bad secret", status: 403, code: "SignatureDoesNotMatch", inMessage: "fix secret_access_key"},
		{name: "invalid argument", status: 400, code: "InvalidArgument", permanent: true},
		{name: "entity too large", status: 400, code: "EntityTooLarge", permanent: true},
		{name: "key too long", status: 400, code: "KeyTooLongError", permanent: true},
		{name: "invalid bucket name", status: 400, code: "InvalidBucketName", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeS3{status: tt.status, code: tt.code, retryAfter: tt.retryAfter}
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)

			err := testStore(t, srv.URL).Put(t.Context(), "bucket", "a/key", strings.NewReader("hello"))
			require.Error(t, err)
			require.Equal(t, tt.permanent, sinks.IsPermanent(err), "permanent: %v", err)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.code, e.Code)
			require.Equal(t, tt.status, e.StatusCode)
			require.Equal(t, "put", e.Op)
			require.Contains(t, err.Error(), "bucket/a/key")
			require.Contains(t, err.Error(), tt.inMessage)
			var ra *sinks.RetryAfterError
			if tt.after > 0 {
				require.ErrorAs(t, err, &ra)
				require.Equal(t, tt.after, ra.After)
			} else {
				require.False(t, errors.As(err, &ra), "unexpected retry-after: %v", err)
			}
			require.Equal(t, []string{"PUT /bucket/a/key?"}, fake.requests(), "one PUT, no retry inside the store")
		})
	}
}

func TestPutRejectsBadNamesWithoutARequest(t *testing.T) {
	tests := []struct {
		name, bucket, key, code string
	}{
		{name: "upper-case bucket", bucket: "Bad_Bucket", key: "k", code: "InvalidBucketName"},
		{name: "short bucket", bucket: "ab", key: "k", code: "InvalidBucketName"},
		{name: "empty key", bucket: "bucket", key: "", code: "InvalidObjectName"},
		{name: "blank key", bucket: "bucket", key: "  ", code: "InvalidObjectName"},
		{name: "long key", bucket: "bucket", key: strings.Repeat("k", 1025), code: "KeyTooLongError"},
		{name: "long key in bytes, not runes", bucket: "bucket", key: strings.Repeat("é", 513), code: "KeyTooLongError"},
		{name: "not utf-8", bucket: "bucket", key: "a\xff", code: "InvalidObjectName"},
	}
	fake := &fakeS3{status: 500, code: "InternalError"}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := testStore(t, srv.URL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Put(t.Context(), tt.bucket, tt.key, strings.NewReader("x"))
			require.True(t, sinks.IsPermanent(err), "%v", err)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.code, e.Code)
		})
	}
	require.Empty(t, fake.requests())
}

// S3 keys have no segment limit: a 300-byte segment a directory store
// refuses is fine here, up to 1,024 bytes in all.
func TestCheckNamesAcceptsLongSegments(t *testing.T) {
	key := strings.Repeat("s", 300) + "/" + strings.Repeat("k", 1024-301)
	require.Len(t, key, 1024)
	require.NoError(t, checkNames("bucket", key))
}

func TestPutUnreachableIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more

	err := testStore(t, url).Put(t.Context(), "bucket", "key", strings.NewReader("x"))
	require.Error(t, err)
	require.False(t, sinks.IsPermanent(err))
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, codeRequestError, e.Code)
	require.Zero(t, e.StatusCode)
	require.Contains(t, err.Error(), "did not answer")
}

// partFailS3 accepts a multipart upload but fails its second part.
type partFailS3 struct {
	fakeS3
}

func (f *partFailS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		f.mu.Lock()
		f.reqs = append(f.reqs, "initiate")
		f.mu.Unlock()
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>key</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPut && q.Get("partNumber") == "1":
		_, _ = io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, "part 1")
		f.mu.Unlock()
		w.Header().Set("ETag", `"etag1"`)
	case r.Method == http.MethodDelete && q.Get("uploadId") == "up1":
		f.mu.Lock()
		f.reqs = append(f.reqs, "abort")
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		f.fakeS3.ServeHTTP(w, r)
	}
}

func TestPutAbortsFailedMultipartUpload(t *testing.T) {
	fake := &partFailS3{fakeS3{status: 500, code: "InternalError"}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	body := bytes.NewReader(make([]byte, MinPartSize+1))
	err := testStore(t, srv.URL).Put(t.Context(), "bucket", "key", body)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "InternalError", e.Code)
	reqs := fake.requests()
	require.Len(t, reqs, 4, "%q", reqs)
	require.Equal(t, []string{"initiate", "part 1"}, reqs[:2])
	require.True(t, strings.HasPrefix(reqs[2], "PUT /bucket/key?partNumber=2"), reqs[2])
	require.Equal(t, "abort", reqs[3])
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		code    string
		wantErr string // "" for success
	}{
		{name: "listing denied but signature accepted", status: 403, code: "AccessDenied"},
		{name: "unknown key", status: 403, code: "InvalidAccessKeyId", wantErr: "InvalidAccessKeyId"},
		{name: "server error", status: 500, code: "InternalError", wantErr: "InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&fakeS3{status: tt.status, code: tt.code})
			t.Cleanup(srv.Close)
			err := testStore(t, srv.URL).Check(t.Context())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.False(t, sinks.IsPermanent(err))
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{in: "", ok: false},
		{in: "soon", ok: false},
		{in: "-3", ok: false},
		{in: "0", want: 0, ok: true},
		{in: " 12 ", want: 12 * time.Second, ok: true},
		{in: "99999999999999999999", ok: false},
		{in: "86400", want: maxRetryAfter, ok: true},
		{in: now.Add(30 * time.Second).Format(http.TimeFormat), want: 30 * time.Second, ok: true},
		{in: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, ok: true},
		{in: now.Add(48 * time.Hour).Format(http.TimeFormat), want: maxRetryAfter, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "18446744073709551615", "1e3"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %v out of range", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v with ok false", v, d)
		}
	})
}
