//go:build integration

package integration

import (
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/s3/s3test"
)

// mustBucket creates a fresh bucket named after name, removed when the
// test ends.
func mustBucket(t testing.TB, name string) string {
	t.Helper()
	return s3test.Bucket(t, s3test.Client(t), name)
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
	return s3test.Object(t, c, bucket, key)
}
