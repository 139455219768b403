// Package s3test finds the test MinIO that `scripts/services.sh up` starts
// (or the S3 server the environment names) for the tests of the s3 sink
// and the end-to-end tests: one place for the endpoint, the client that
// fails (never skips) when the server is down, and bucket clean-up.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"
)

// Env is where the tests find S3: HYDRANT_S3_ENDPOINT, HYDRANT_S3_ACCESS_KEY
// and HYDRANT_S3_SECRET_KEY, defaulting to what `scripts/services.sh up`
// starts.
type Env struct {
	Endpoint, AccessKey, SecretKey string
}

// LoadEnv reads Env from the environment.
func LoadEnv() Env {
	get := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	return Env{
		Endpoint:  get("HYDRANT_S3_ENDPOINT", "http://127.0.0.1:9000"),
		AccessKey: get("HYDRANT_S3_ACCESS_KEY", "minioadmin"),
		SecretKey: get("HYDRANT_S3_SECRET_KEY", "minioadmin"),
	}
}

// Client returns a client of the test S3 server, failing the test (never
// skipping it) when the server does not answer.
func Client(t testing.TB) *minio.Client {
	t.Helper()
	env := LoadEnv()
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

// RemoveBucket deletes bucket with its objects and pending uploads, best
// effort: a bucket left behind only costs disk in the MinIO state
// directory.
func RemoveBucket(t testing.TB, c *minio.Client, bucket string) {
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

var notBucketChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Bucket creates a fresh bucket named after name with a random suffix,
// removed with its objects and pending uploads when the test ends.
func Bucket(t testing.TB, c *minio.Client, name string) string {
	t.Helper()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	base := strings.Trim(notBucketChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	bucket := "it-" + base + "-" + hex.EncodeToString(suffix[:])
	require.NoError(t, c.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}), "create bucket %s", bucket)
	t.Cleanup(func() { RemoveBucket(t, c, bucket) })
	return bucket
}

// Object reads one whole object.
func Object(t testing.TB, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	r, err := c.GetObject(t.Context(), bucket, key, minio.GetObjectOptions{})
	require.NoError(t, err, "get %s/%s", bucket, key)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err, "read %s/%s", bucket, key)
	return b
}
