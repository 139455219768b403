//go:build integration

package postgres_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/directory"
	"github.com/hydrant-io/hydrant/sinks/postgres"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/sinks/s3"
	"github.com/hydrant-io/hydrant/sinks/s3/s3test"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// The Redshift sink's whole flow against real servers: each batch staged
// in MinIO with a manifest, then loaded by the stdin mode, which reads the
// manifest and the staged file back from MinIO and COPYs them into real
// PostgreSQL, in the transaction of the checkpoint row.
func TestSinktest_RedshiftStdinOnMinIO(t *testing.T) {
	sinktest.Run(t, redshiftHarness(func(t *testing.T) (sinks.ObjectStore, string) {
		return minioStore(t), s3test.Bucket(t, s3test.Client(t), "redshift")
	}))
}

// The same with a directory staging store.
func TestSinktest_RedshiftStdinOnDirectory(t *testing.T) {
	sinktest.Run(t, redshiftHarness(func(t *testing.T) (sinks.ObjectStore, string) {
		st, err := directory.New(t.TempDir())
		require.NoError(t, err)
		return st, "staging"
	}))
}

func redshiftHarness(staging func(t *testing.T) (sinks.ObjectStore, string)) sinktest.Harness {
	return sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			admin := pgtest.Admin(t)
			table := pgtest.Schema(t, admin) + ".events"
			_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+` (id text NOT NULL, shard text NOT NULL, seq bigint NOT NULL, sub integer NOT NULL, body text)`)
			require.NoError(t, err)
			proxy := sinktest.NewProxy(t, pgtest.HostPort(t))
			store, bucket := staging(t)
			s, err := postgres.NewRedshift(newPool(t, pgtest.Via(t, proxy.Addr())), postgres.RedshiftConfig{
				Table: table, Columns: payloadColumns, Load: postgres.LoadStdin,
				Staging: store, Bucket: bucket, Prefix: "redshift/", Pipeline: sinktest.Pipeline, Version: 1,
			})
			require.NoError(t, err)
			return &sinktest.Target{
				Sink:  s,
				Read:  func(t *testing.T) []sinktest.Delivered { return readTable(t, admin, table) },
				Break: proxy.Break,
			}
		},
		// A record that is not JSON cannot be staged: it fails alone.
		Bad:     func(r *record.Record) { r.Data = []byte("not json\n") },
		BadType: record.RedshiftFailed,
		Misconfigured: func(t *testing.T) sinks.Sink {
			admin := pgtest.Admin(t)
			table := pgtest.Schema(t, admin) + ".events"
			_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+` (id text, shard text, seq bigint, sub integer, body point)`)
			require.NoError(t, err)
			store, bucket := staging(t)
			s, err := postgres.NewRedshift(newPool(t, pgtest.DSN()), postgres.RedshiftConfig{
				Table: table, Columns: payloadColumns, Load: postgres.LoadStdin, Staging: store, Bucket: bucket, Pipeline: "p", Version: 1,
			})
			require.NoError(t, err)
			return s
		},
		ExactlyOnce: true,
	}
}

// What is staged is what Firehose stages: a gzip'd JSON-lines object of
// the mapped columns, and beside it a manifest listing it as mandatory,
// both read back from MinIO with a client of the test's own.
func TestRedshift_StagedObjectAndManifestInMinIO(t *testing.T) {
	admin := pgtest.Admin(t)
	table := pgtest.Schema(t, admin) + ".clicks"
	_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+" (user_id bigint, page text)")
	require.NoError(t, err)
	c := s3test.Client(t)
	bucket := s3test.Bucket(t, c, "staging")
	s, err := postgres.NewRedshift(newPool(t, pgtest.DSN()), postgres.RedshiftConfig{
		Table: table, Load: postgres.LoadStdin, Staging: minioStore(t), Bucket: bucket, Prefix: "rs/",
		Pipeline: "clicks", Version: 1,
		Columns: []postgres.Column{{Name: "user_id", Query: ".user.id"}, {Name: "page", Query: ".page"}},
	})
	require.NoError(t, err)
	b := batch(`{"user":{"id":7},"page":"/a","extra":1}`, `{"user":{"id":8},"page":"/b"}`)
	require.NoError(t, s.Write(t.Context(), b))

	var manifests, data []string
	for obj := range c.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(t, obj.Err)
		if strings.HasPrefix(obj.Key, "rs/manifests/") {
			manifests = append(manifests, obj.Key)
		} else {
			data = append(data, obj.Key)
		}
	}
	require.Len(t, manifests, 1)
	require.Len(t, data, 1)
	require.Regexp(t, `^rs/\d{4}/\d\d/\d\d/\d\d/clicks-1-\d{4}(-\d\d){5}-[0-9a-f-]{36}\.gz$`, data[0])
	var m struct {
		Entries []struct {
			URL       string `json:"url"`
			Mandatory bool   `json:"mandatory"`
		} `json:"entries"`
	}
	require.NoError(t, json.Unmarshal(s3test.Object(t, c, bucket, manifests[0]), &m))
	require.Len(t, m.Entries, 1)
	require.True(t, m.Entries[0].Mandatory)
	require.Equal(t, "s3://"+bucket+"/"+data[0], m.Entries[0].URL)

	zr, err := gzip.NewReader(bytes.NewReader(s3test.Object(t, c, bucket, data[0])))
	require.NoError(t, err)
	lines, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, "{\"page\":\"/a\",\"user_id\":7}\n{\"page\":\"/b\",\"user_id\":8}\n", string(lines))

	var n, sum int
	require.NoError(t, admin.QueryRow(t.Context(), "SELECT count(*), sum(user_id) FROM "+table).Scan(&n, &sum))
	require.Equal(t, 2, n)
	require.Equal(t, 15, sum)
}

// minioStore is an s3 store on the test MinIO.
func minioStore(t *testing.T) *s3.Store {
	t.Helper()
	env := s3test.LoadEnv()
	u, err := url.Parse(env.Endpoint)
	require.NoError(t, err)
	st, err := s3.New(s3.Config{Endpoint: u.Scheme + "://" + u.Host, Region: "us-east-1",
		AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, PathStyle: true, MaxRetries: 1})
	require.NoError(t, err)
	return st
}
