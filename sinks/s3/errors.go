package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hydrant-io/hydrant/sinks"
)

// Error is a failed S3 operation. Store methods return it wrapped: use
// errors.As to read the S3 code (e.g. for the backup's errorCode), and
// sinks.IsPermanent / *sinks.RetryAfterError for what to do next.
type Error struct {
	// Op is the operation: "put", "check".
	Op string
	// Bucket and Key name the object (Key is empty for bucket operations).
	Bucket, Key string
	// Code is the S3 error code ("AccessDenied", "SlowDown", ...), or
	// "RequestError" when the server could not be reached or answered
	// something unreadable.
	Code string
	// StatusCode is the HTTP status, 0 when there was no answer.
	StatusCode int
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 %s %s", e.Op, e.Bucket)
	if e.Key != "" {
		fmt.Fprintf(&b, "/%s", e.Key)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %s (HTTP %d): %v", e.Code, e.StatusCode, e.Err)
	} else {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if h := hints[e.Code]; h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// codeRequestError is the code of an error without an S3 answer.
const codeRequestError = "RequestError"

// hints explain the misconfigurations that are retried anyway (someone may
// fix them before retry.duration ends), so that the log says what to fix.
var hints = map[string]string{
	"AccessDenied":          "the credentials may not write this bucket; fix the bucket or IAM policy, delivery keeps retrying",
	"NoSuchBucket":          "the bucket does not exist; create it, delivery keeps retrying",
	"InvalidAccessKeyId":    "the access key id is unknown to the server; fix access_key_id, delivery keeps retrying",
	"SignatureDoesNotMatch": "the secret key does not match the access key id (or the region is wrong); fix secret_access_key, delivery keeps retrying",
	codeRequestError:        "the S3 endpoint did not answer; delivery keeps retrying",
}

// permanentCodes cannot succeed on retry whatever an operator does to the
// bucket: the request itself is wrong.
var permanentCodes = map[string]bool{
	"InvalidBucketName":       true,
	"EntityTooLarge":          true,
	"KeyTooLongError":         true,
	"InvalidArgument":         true,
	"InvalidObjectName":       true,
	"XMinioInvalidObjectName": true,
	"MetadataTooLarge":        true,
}

// classify turns an error of a minio-go call into an *Error, marked
// sinks.Permanent for requests that can never succeed and wrapped in a
// *sinks.RetryAfterError when the server asked for a delay. Everything else
// is retryable: network errors, 5xx, SlowDown, and the misconfigurations
// an operator can fix (AccessDenied, NoSuchBucket, bad credentials).
func classify(err error, op, bucket, key string, hint *retryHint) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Bucket: bucket, Key: key, Code: codeRequestError, Err: err}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code != "" {
		e.Code, e.StatusCode = resp.Code, resp.StatusCode
		if e.StatusCode == 0 {
			// Client-side checks in minio-go answer without a status.
			e.StatusCode = http.StatusBadRequest
		}
		if resp.Message != "" {
			e.Err = errors.New(resp.Message)
		}
	}
	if permanentCodes[e.Code] {
		return sinks.Permanent(e)
	}
	if d := hint.get(); d > 0 && e.StatusCode != 0 && (e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests || e.Code == "SlowDown") {
		return &sinks.RetryAfterError{Err: e, After: d}
	}
	return e
}

// retryHint holds the Retry-After of the last answer seen by one operation,
// in nanoseconds. The transport fills it through the request context.
type retryHint struct{ d atomic.Int64 }

func (h *retryHint) get() time.Duration {
	if h == nil {
		return 0
	}
	return time.Duration(h.d.Load())
}

type retryHintKey struct{}

// withRetryHint returns a context whose requests record Retry-After in h.
func withRetryHint(ctx context.Context, h *retryHint) context.Context {
	return context.WithValue(ctx, retryHintKey{}, h)
}

// hintTransport records the Retry-After header of each answer in the
// operation's retryHint (minio-go does not expose response headers with its
// errors).
type hintTransport struct {
	next http.RoundTripper
	now  func() time.Time
}

func (t hintTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if resp != nil {
		if h, ok := req.Context().Value(retryHintKey{}).(*retryHint); ok {
			d, _ := parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
			h.d.Store(int64(d))
		}
	}
	return resp, err
}

// maxRetryAfter caps a server's hint so that a bogus header cannot stall
// delivery for days.
const maxRetryAfter = 10 * time.Minute

// parseRetryAfter reads an HTTP Retry-After value: delay seconds or an HTTP
// date. It reports false for an empty or unreadable value; the result is
// capped at maxRetryAfter and never negative.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}
