//go:build integration

package s3_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/object"
	"github.com/hydrant-io/hydrant/sinks/s3"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// The object sink on the S3 store against the test MinIO, as the s3
// destination builds it. The store reaches MinIO through a
// sinktest.Proxy, which Break cuts: a network outage, retryable. What
// reached the bucket is read back with a client of its own.

func TestSinktest_S3Gzip(t *testing.T) {
	sinktest.Run(t, s3Harness(object.Config{Compression: "gzip"}))
}

func TestSinktest_S3DynamicPartitioning(t *testing.T) {
	h := s3Harness(object.Config{Prefix: "part=!{partitionKeyFromQuery:p}/!{timestamp:yyyy/MM/dd}/"})
	h.Record = func(r *record.Record, p int) {
		r.Meta = map[string]string{record.QueryKey("p"): fmt.Sprintf("p%d", p)}
	}
	h.Partitions = 3
	h.Bad = func(r *record.Record) { r.Meta = nil }
	h.BadType = record.PartitionKeyFailed
	// Uncompressed, past two parts: CancelMidWrite cancels multipart
	// uploads, which must be aborted (readBucket finds none left).
	h.LargeBatch = 3 * s3.MinPartSize
	sinktest.Run(t, h)
}

// s3Harness runs the object sink configured by cfg on an S3 store, one
// fresh bucket per subtest.
func s3Harness(cfg object.Config) sinktest.Harness {
	cfg.Pipeline, cfg.Version = sinktest.Pipeline, 1
	return sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			admin := minioClient(t)
			proxy := sinktest.NewProxy(t, endpointHost(t))
			c := cfg
			c.Bucket = mustBucket(t, admin)
			s, err := object.New(c, storeVia(t, proxy.Addr()))
			require.NoError(t, err)
			return &sinktest.Target{
				Sink:  s,
				Read:  func(t *testing.T) []sinktest.Delivered { return readBucket(t, admin, c.Bucket) },
				Break: proxy.Break,
			}
		},
		// An invalid bucket name: S3 can never accept it, so it is
		// permanent. (A missing bucket is retryable by design: an
		// operator may create it while delivery retries.)
		Misconfigured: func(t *testing.T) sinks.Sink {
			c := cfg
			c.Bucket = "Not_A_Valid_Bucket"
			s, err := object.New(c, storeVia(t, endpointHost(t)))
			require.NoError(t, err)
			return s
		},
	}
}

// TestS3_CheckMissingBucket: Check names a bucket that does not exist,
// and so does a Write, retryably.
func TestS3_CheckMissingBucket(t *testing.T) {
	minioClient(t)
	s, err := object.New(object.Config{Pipeline: sinktest.Pipeline, Bucket: "hydrant-no-such-bucket-" + randomSuffix()},
		storeVia(t, endpointHost(t)))
	require.NoError(t, err)
	err = s.Check(t.Context())
	var se *s3.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, "NoSuchBucket", se.Code)
	require.False(t, sinks.IsPermanent(err))

	b := sinktest.Batch(sinktest.Records(sinktest.Shard(0), 1, 2, 1))
	err = s.Write(t.Context(), b)
	require.ErrorAs(t, err, &se)
	require.Equal(t, "NoSuchBucket", se.Code)
	require.False(t, sinks.IsPermanent(err), "a missing bucket is retried: it may be created")
}

// storeVia returns an S3 store reaching MinIO at hostPort with the test
// credentials, trying each request once (the runtime retries), with the
// smallest parts.
func storeVia(t *testing.T, hostPort string) *s3.Store {
	t.Helper()
	env := loadS3Env()
	u, err := url.Parse(env.Endpoint)
	require.NoError(t, err)
	store, err := s3.New(s3.Config{
		Endpoint:    u.Scheme + "://" + hostPort,
		Region:      "us-east-1",
		AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey,
		PathStyle:  true,
		MaxRetries: 1,
		PartSize:   s3.MinPartSize,
	})
	require.NoError(t, err)
	return store
}

// readBucket reads every object of bucket back into records.
func readBucket(t *testing.T, c *minio.Client, bucket string) []sinktest.Delivered {
	t.Helper()
	var out []sinktest.Delivered
	for obj := range c.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(t, obj.Err, "list %s", bucket)
		r, err := c.GetObject(t.Context(), bucket, obj.Key, minio.GetObjectOptions{})
		require.NoError(t, err, "get %s/%s", bucket, obj.Key)
		body, err := io.ReadAll(r)
		_ = r.Close()
		require.NoError(t, err, "read %s/%s", bucket, obj.Key)
		if strings.HasSuffix(obj.Key, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			require.NoError(t, err, obj.Key)
			body, err = io.ReadAll(zr)
			require.NoError(t, err, obj.Key)
		}
		out = append(out, sinktest.Lines(body, obj.Key)...)
	}
	// Nothing half-written stays behind a failed or cancelled multipart
	// upload.
	for up := range c.ListIncompleteUploads(t.Context(), bucket, "", true) {
		require.NoError(t, up.Err)
		t.Errorf("incomplete multipart upload left in %s: %s", bucket, up.Key)
	}
	return out
}

// s3Env is where the tests find MinIO: HYDRANT_S3_ENDPOINT,
// HYDRANT_S3_ACCESS_KEY and HYDRANT_S3_SECRET_KEY, defaulting to what
// `scripts/services.sh up` starts (as in integration/s3env_test.go).
type s3Env struct {
	Endpoint, AccessKey, SecretKey string
}

func loadS3Env() s3Env {
	get := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	return s3Env{
		Endpoint:  get("HYDRANT_S3_ENDPOINT", "http://127.0.0.1:9000"),
		AccessKey: get("HYDRANT_S3_ACCESS_KEY", "minioadmin"),
		SecretKey: get("HYDRANT_S3_SECRET_KEY", "minioadmin"),
	}
}

func endpointHost(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(loadS3Env().Endpoint)
	require.NoError(t, err, "HYDRANT_S3_ENDPOINT")
	return u.Host
}

// minioClient returns a client of the test MinIO, failing the test (never
// skipping it) when MinIO does not answer.
func minioClient(t *testing.T) *minio.Client {
	t.Helper()
	env := loadS3Env()
	u, err := url.Parse(env.Endpoint)
	require.NoError(t, err, "HYDRANT_S3_ENDPOINT")
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(env.AccessKey, env.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.ListBuckets(ctx); err != nil {
		t.Fatalf("MinIO is unreachable at %s (%v): run `make services-up` (scripts/services.sh up) first, "+
			"or point HYDRANT_S3_ENDPOINT/HYDRANT_S3_ACCESS_KEY/HYDRANT_S3_SECRET_KEY at an S3 server", env.Endpoint, err)
	}
	return c
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mustBucket creates a fresh bucket and removes it with its objects and
// pending uploads when the test ends.
func mustBucket(t *testing.T, c *minio.Client) string {
	t.Helper()
	bucket := "sinktest-" + randomSuffix()
	require.NoError(t, c.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}), "create bucket %s", bucket)
	t.Cleanup(func() { removeBucket(t, c, bucket) })
	return bucket
}

// removeBucket deletes bucket and everything in it, best effort.
func removeBucket(t *testing.T, c *minio.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Logf("cleanup: list %s: %v", bucket, obj.Err)
			return
		}
		if err := c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Logf("cleanup: remove %s/%s: %v", bucket, obj.Key, err)
		}
	}
	for up := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if up.Err == nil {
			_ = c.RemoveIncompleteUpload(ctx, bucket, up.Key)
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("cleanup: remove bucket %s: %v", bucket, err)
	}
}
