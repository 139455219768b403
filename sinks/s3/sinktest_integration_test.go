//go:build integration

package s3_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/object"
	"github.com/hydrant-io/hydrant/sinks/s3"
	"github.com/hydrant-io/hydrant/sinks/s3/s3test"
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
			admin := s3test.Client(t)
			proxy := sinktest.NewProxy(t, endpointHost(t))
			c := cfg
			c.Bucket = s3test.Bucket(t, admin, "sinktest")
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
	s3test.Client(t)
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
	env := s3test.LoadEnv()
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

func endpointHost(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(s3test.LoadEnv().Endpoint)
	require.NoError(t, err, "HYDRANT_S3_ENDPOINT")
	return u.Host
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
