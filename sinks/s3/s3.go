// Package s3 implements sinks.ObjectStore on Amazon S3 and S3-compatible
// servers (MinIO), with minio-go.
//
// Put streams a body of unknown size with constant memory: it reads into a
// pooled 256 KiB buffer, then into a buffer that grows up to one part
// (Config.PartSize, 8 MiB by default); a body that ends within the first
// part is sent as one PUT, a longer one as a multipart upload, one part at a
// time, so a Put holds at most one part buffer however large the object,
// and a small object only about its own size. S3 makes an object visible only when its PUT or its
// CompleteMultipartUpload succeeds, so readers never see a partial object,
// and a retried Put of the same key overwrites it. A failed multipart upload
// is aborted; one interrupted by a crash stays invisible until the bucket's
// AbortIncompleteMultipartUpload lifecycle rule removes it.
//
// Errors are *Error values, classified for the delivery runtime. Network
// errors, 5xx, SlowDown and the misconfigurations an operator can fix
// while delivery keeps retrying (AccessDenied, NoSuchBucket,
// InvalidAccessKeyId, SignatureDoesNotMatch) are retryable, inside a
// *sinks.RetryAfterError when the server sent Retry-After. Requests that can
// never succeed (InvalidBucketName, EntityTooLarge, KeyTooLongError,
// InvalidArgument, invalid object names) are sinks.Permanent; bad names are
// caught before any request.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/hydrant-io/hydrant/sinks"
)

// Part size limits of S3 multipart uploads.
const (
	DefaultPartSize = 8 << 20
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	// MaxParts is the most parts one upload may have, so the largest object
	// Put can write is MaxParts * PartSize (78 GiB with the default).
	MaxParts = 10000
)

// DefaultMaxRetries is how many times one HTTP request is tried before Put
// gives up and lets the delivery runtime retry with its own backoff.
const DefaultMaxRetries = 3

// smallPutSize is the buffer a Put reads into first; a body that ends
// within it never takes a whole part buffer.
const smallPutSize = 256 << 10

// abortTimeout bounds the clean-up of a failed multipart upload.
const abortTimeout = 30 * time.Second

// Config configures a Store.
type Config struct {
	// Endpoint is the server URL: "http://127.0.0.1:9000" (plain HTTP),
	// "https://s3.eu-west-1.amazonaws.com" or a bare host (TLS). Empty means
	// DefaultEndpoint.
	Endpoint string
	// Region signs requests; empty asks the server for each bucket's
	// location (once per bucket).
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials. When AccessKeyID is empty, the AWS_* and then MINIO_*
	// environment variables are used.
	AccessKeyID, SecretAccessKey, SessionToken string
	// PathStyle addresses buckets as endpoint/bucket (MinIO) rather than
	// bucket.endpoint.
	PathStyle bool
	// PartSize is the multipart part size and the largest body sent as one
	// PUT, between MinPartSize and MaxPartSize. 0 means DefaultPartSize.
	// Each concurrent Put holds at most one buffer of this size.
	PartSize int64
	// MaxRetries is how many times one request is tried (minio-go backs off
	// from 200 ms up to 1 s in between). 0 means DefaultMaxRetries.
	MaxRetries int
	// UnsignedPayload skips the SHA-256 signature of request bodies on
	// plain-HTTP endpoints (about a third faster for large objects on
	// MinIO here), leaving body integrity to TCP. Over HTTPS, bodies are
	// never signed (TLS protects them), whatever this says.
	UnsignedPayload bool
	// Transport replaces the HTTP transport (custom TLS roots, tests).
	Transport http.RoundTripper
	// Logger receives clean-up failures; nil discards them.
	Logger *slog.Logger
}

// Store is a sinks.ObjectStore on an S3 endpoint. It is safe for concurrent
// use; concurrent Puts of one key are last-writer-wins, as in S3.
type Store struct {
	client   *minio.Client
	core     minio.Core
	partSize int64
	unsigned bool
	small    sync.Pool // *[]byte of smallPutSize
	log      *slog.Logger
}

var _ sinks.ObjectStore = (*Store)(nil)

// New validates cfg and returns a Store. It does not contact the server:
// call Check for that.
func New(cfg Config) (*Store, error) {
	host, secure, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > MaxPartSize {
		return nil, fmt.Errorf("s3: part size %d outside [%d, %d]", partSize, MinPartSize, MaxPartSize)
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("s3: access key id and secret access key go together")
	}
	var creds *credentials.Credentials
	if cfg.AccessKeyID != "" {
		creds = credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.EnvMinio{}})
	}
	transport := cfg.Transport
	if transport == nil {
		if transport, err = minio.DefaultTransport(secure); err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	retries := cfg.MaxRetries
	if retries <= 0 {
		retries = DefaultMaxRetries
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    hintTransport{next: transport, now: time.Now},
		MaxRetries:   retries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{client: client, core: minio.Core{Client: client}, partSize: partSize, unsigned: cfg.UnsignedPayload, log: log}
	s.small.New = func() any { b := make([]byte, smallPutSize); return &b }
	return s, nil
}

// PartSize is the multipart part size in bytes.
func (s *Store) PartSize() int64 { return s.partSize }

// Client is the underlying minio-go client, for callers (tests, tools) that
// need more than Put.
func (s *Store) Client() *minio.Client { return s.client }

// Check reports whether the endpoint answers and accepts the credentials.
// A server that denies listing buckets (a key restricted to some buckets)
// still passes: the signature was accepted. Use CheckBucket for a bucket.
func (s *Store) Check(ctx context.Context) error {
	hint := &retryHint{}
	_, err := s.client.ListBuckets(withRetryHint(ctx, hint))
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code == "AccessDenied" {
		return nil
	}
	return classify(err, "check", "", "", hint)
}

// CheckBucket reports whether bucket exists and is reachable with the
// credentials (an error with Code "NoSuchBucket" when it does not exist).
func (s *Store) CheckBucket(ctx context.Context, bucket string) error {
	if err := checkBucket(bucket); err != nil {
		return classify(err, "check", bucket, "", nil)
	}
	hint := &retryHint{}
	ok, err := s.client.BucketExists(withRetryHint(ctx, hint), bucket)
	if err == nil && !ok {
		err = minio.ErrorResponse{Code: "NoSuchBucket", Message: "The specified bucket does not exist", StatusCode: http.StatusNotFound, BucketName: bucket}
	}
	return classify(err, "check", bucket, "", hint)
}

// Get opens bucket/key for reading; errors are classified as Put's.
func (s *Store) Get(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := checkNames(bucket, key); err != nil {
		return nil, classify(err, "get", bucket, key, nil)
	}
	obj, err := s.client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, classify(err, "get", bucket, key, nil)
	}
	// GetObject is lazy: Stat makes the request, so a missing object
	// fails here rather than at the first Read.
	if _, err := obj.Stat(); err != nil {
		_ = obj.Close()
		return nil, classify(err, "get", bucket, key, nil)
	}
	return obj, nil
}

// Put writes body to bucket/key, replacing any object there, reading body
// to EOF (or to the first error). See the package doc for memory,
// atomicity and errors.
func (s *Store) Put(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := checkNames(bucket, key); err != nil {
		return classify(err, "put", bucket, key, nil)
	}
	hint := &retryHint{}
	ctx = withRetryHint(ctx, hint)
	// Most objects of a dynamically partitioned destination are small:
	// read into a small buffer first, and take a whole part buffer only for
	// a body that outgrows it, so many concurrent small Puts stay cheap.
	sp := s.small.Get().(*[]byte)
	n, last, err := readPart(ctx, body, *sp)
	if err != nil {
		s.small.Put(sp)
		return fmt.Errorf("s3 put %s/%s: read body: %w", bucket, key, err)
	}
	if last {
		defer s.small.Put(sp)
		return s.putOne(ctx, bucket, key, (*sp)[:n], hint)
	}
	// Larger bodies grow a buffer up to one part (sized to the object, not
	// to PartSize, when it is smaller), then stream as a multipart upload.
	buf := make([]byte, n, min(4*int64(n), s.partSize))
	copy(buf, (*sp)[:n])
	s.small.Put(sp)
	buf, last, err = readGrow(ctx, body, buf, int(s.partSize))
	if err != nil {
		return fmt.Errorf("s3 put %s/%s: read body: %w", bucket, key, err)
	}
	if last {
		return s.putOne(ctx, bucket, key, buf, hint)
	}
	return classify(s.putMultipart(ctx, bucket, key, body, buf[:s.partSize]), "put", bucket, key, hint)
}

// readGrow appends from r to buf, growing it up to limit bytes. last
// reports that r ended before limit.
func readGrow(ctx context.Context, r io.Reader, buf []byte, limit int) ([]byte, bool, error) {
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), limit-len(buf)))
		}
		n, last, err := readPart(ctx, r, buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err != nil || last {
			return buf, last, err
		}
	}
	return buf, false, nil
}

// putOne writes a body that fits one part with a single PUT.
func (s *Store) putOne(ctx context.Context, bucket, key string, data []byte, hint *retryHint) error {
	_, err := s.client.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{PartSize: uint64(s.partSize), DisableMultipart: true, DisableContentSha256: s.unsigned})
	return classify(err, "put", bucket, key, hint)
}

// putMultipart uploads buf (a full first part) and the rest of body as a
// multipart upload, one part at a time, aborting the upload on failure.
func (s *Store) putMultipart(ctx context.Context, bucket, key string, body io.Reader, buf []byte) (err error) {
	// The upload is created even when ctx ends meanwhile: a creation
	// whose answer was cut off would leave an upload we cannot abort, its
	// id unknown. Creating is one small request, so this costs a cancel
	// at most that request's time.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	id, err := s.core.NewMultipartUpload(cctx, bucket, key, minio.PutObjectOptions{})
	cancel()
	if err != nil {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		err = cerr // aborted by the deferred clean-up below
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is cancelled, so that the parts do not linger.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if aerr := s.core.AbortMultipartUpload(actx, bucket, key, id); aerr != nil {
			s.log.WarnContext(ctx, "s3: abort multipart upload", "bucket", bucket, "key", key, "upload_id", id, "err", aerr)
		}
	}()
	if err != nil {
		return err
	}
	var parts []minio.CompletePart
	n, last := len(buf), false
	for num := 1; ; num++ {
		if num > MaxParts {
			return minio.ErrorResponse{Code: "EntityTooLarge", StatusCode: http.StatusBadRequest,
				Message: fmt.Sprintf("body longer than %d parts of %d bytes", MaxParts, s.partSize)}
		}
		p, err := s.core.PutObjectPart(ctx, bucket, key, id, num, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{DisableContentSha256: s.unsigned})
		if err != nil {
			return err
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		if last {
			break
		}
		if n, last, err = readPart(ctx, body, buf); err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		if n == 0 {
			break // the body ended exactly at a part boundary
		}
	}
	_, err = s.core.CompleteMultipartUpload(ctx, bucket, key, id, parts, minio.PutObjectOptions{})
	return err
}

// readPart fills buf from r. last reports that r ended within buf.
func readPart(ctx context.Context, r io.Reader, buf []byte) (n int, last bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	n, err = io.ReadFull(r, buf)
	switch {
	case err == nil:
		return n, false, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return n, true, nil
	default:
		return n, false, err
	}
}

// checkNames rejects, before any request, the names S3 would refuse, as
// minio.ErrorResponse values that classify marks permanent.
func checkNames(bucket, key string) error {
	if err := checkBucket(bucket); err != nil {
		return err
	}
	if len(key) > 1024 {
		return minio.ErrorResponse{Code: "KeyTooLongError", Message: "Your key is too long (over 1024 bytes)", StatusCode: http.StatusBadRequest, BucketName: bucket}
	}
	if err := s3utils.CheckValidObjectName(key); err != nil {
		return minio.ErrorResponse{Code: "InvalidObjectName", Message: err.Error(), StatusCode: http.StatusBadRequest, BucketName: bucket, Key: key}
	}
	return nil
}

func checkBucket(bucket string) error {
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return minio.ErrorResponse{Code: "InvalidBucketName", Message: err.Error(), StatusCode: http.StatusBadRequest, BucketName: bucket}
	}
	return nil
}
