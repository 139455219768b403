//go:build integration

package integration

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/s3/s3test"
)

var notBucketChars = regexp.MustCompile(`[^a-z0-9-]+`)

// mustBucket creates a fresh bucket named after name with a random suffix,
// and removes it with its objects and pending uploads when the test ends.
func mustBucket(t testing.TB, name string) string {
	t.Helper()
	c := s3test.Client(t)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	base := strings.Trim(notBucketChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	bucket := "it-" + base + "-" + hex.EncodeToString(suffix[:])
	require.NoError(t, c.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}), "create bucket %s", bucket)
	t.Cleanup(func() { s3test.RemoveBucket(t, c, bucket) })
	return bucket
}

// listObjects returns every object under prefix in bucket, key to content.
func listObjects(t testing.TB, bucket, prefix string) map[string][]byte {
	t.Helper()
	c := s3test.Client(t)
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
