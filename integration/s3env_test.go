//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// s3Env is where the S3 tests find MinIO: HYDRANT_S3_ENDPOINT,
// HYDRANT_S3_ACCESS_KEY and HYDRANT_S3_SECRET_KEY, defaulting to what
// `scripts/services.sh up` starts.
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

// minioClient returns a client of the test MinIO, failing the test (never
// skipping it) when MinIO does not answer.
func minioClient(t testing.TB) *minio.Client {
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
	requireMinIO(t, c, env.Endpoint)
	return c
}

// requireMinIO fails the test when MinIO at endpoint is not reachable with
// the test credentials.
func requireMinIO(t testing.TB, c *minio.Client, endpoint string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.ListBuckets(ctx); err != nil {
		t.Fatalf("MinIO is unreachable at %s (%v): run `make services-up` (scripts/services.sh up) first, "+
			"or point HYDRANT_S3_ENDPOINT/HYDRANT_S3_ACCESS_KEY/HYDRANT_S3_SECRET_KEY at an S3 server", endpoint, err)
	}
}

var notBucketChars = regexp.MustCompile(`[^a-z0-9-]+`)

// mustBucket creates a fresh bucket named after name with a random suffix,
// and removes it with its objects and pending uploads when the test ends.
func mustBucket(t testing.TB, name string) string {
	t.Helper()
	c := minioClient(t)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	base := strings.Trim(notBucketChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	bucket := "it-" + base + "-" + hex.EncodeToString(suffix[:])
	require.NoError(t, c.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}), "create bucket %s", bucket)
	t.Cleanup(func() { removeBucket(t, c, bucket) })
	return bucket
}

// removeBucket deletes bucket and everything in it, best effort: a bucket
// left behind only costs disk in the MinIO state directory.
func removeBucket(t testing.TB, c *minio.Client, bucket string) {
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
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Logf("cleanup: remove bucket %s: %v", bucket, err)
	}
}

// listObjects returns every object under prefix in bucket, key to content.
func listObjects(t testing.TB, bucket, prefix string) map[string][]byte {
	t.Helper()
	c := minioClient(t)
	out := map[string][]byte{}
	for obj := range c.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		require.NoError(t, obj.Err, "list %s/%s", bucket, prefix)
		out[obj.Key] = getObject(t, c, bucket, obj.Key)
	}
	return out
}

// getObject reads one whole object.
func getObject(t testing.TB, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	r, err := c.GetObject(t.Context(), bucket, key, minio.GetObjectOptions{})
	require.NoError(t, err, "get %s/%s", bucket, key)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err, "read %s/%s", bucket, key)
	return b
}
