// Package icetest sets up Iceberg warehouses on the test MinIO, with
// iceberg-go's SQL catalog on the test PostgreSQL, for the tests of the
// iceberg sink and the end-to-end tests, and reads tables back with
// iceberg-go's own table scan: a reader that shares no code with the
// sink's Parquet encoder.
package icetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/sinks/iceberg"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/sinks/s3/s3test"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
)

// CatalogName is the name of the catalog the helpers open. iceberg-go's
// SQL catalog keeps it in every row: a Hydrant config whose tables the
// helpers read names its iceberg store so.
const CatalogName = "icetest"

// Warehouse is a fresh bucket on the test MinIO holding tables.
type Warehouse struct {
	Bucket string
	// Location is s3://bucket/warehouse.
	Location string
	env      s3test.Env

	mu   sync.Mutex
	read catalog.Catalog // direct, for reading back; opened once
}

// NewWarehouse creates a bucket, removed when the test ends.
func NewWarehouse(t testing.TB) *Warehouse {
	t.Helper()
	c := s3test.Client(t)
	pgtest.Admin(t) // fail early, with what to do, when PostgreSQL is down
	b := s3test.Bucket(t, c, "iceberg")
	return &Warehouse{Bucket: b, Location: "s3://" + b + "/warehouse", env: s3test.LoadEnv()}
}

// S3HostPort is the test MinIO's host:port, for a sinktest.Proxy.
func (w *Warehouse) S3HostPort() string {
	u, _ := url.Parse(w.env.Endpoint)
	return u.Host
}

// Config is the catalog config of the warehouse with the catalog's
// database at dsn and S3 at s3Addr (host:port).
func (w *Warehouse) Config(dsn, s3Addr string) iceberg.CatalogConfig {
	return iceberg.CatalogConfig{
		Name: CatalogName, Kind: "sql", URI: dsn, Warehouse: w.Location,
		S3: &iceberg.S3Config{Endpoint: "http://" + s3Addr, Region: "us-east-1",
			AccessKeyID: w.env.AccessKey, SecretAccessKey: w.env.SecretKey, PathStyle: true},
	}
}

// Catalog opens the warehouse's catalog as a sink would, closed when the
// test ends.
func (w *Warehouse) Catalog(t testing.TB, dsn, s3Addr string) *iceberg.Catalog {
	t.Helper()
	c, err := iceberg.NewCatalog(w.Config(dsn, s3Addr))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Namespace returns a fresh namespace name (not yet created).
func (w *Warehouse) Namespace(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t_" + hex.EncodeToString(b[:])
}

// Open returns the catalog directly (no proxy), for reading back, opened
// once per warehouse.
func (w *Warehouse) Open(t testing.TB) catalog.Catalog {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.read == nil {
		c := w.Catalog(t, pgtest.DSN(), w.S3HostPort())
		cat, err := c.Open(t.Context())
		require.NoError(t, err)
		w.read = cat
	}
	return w.read
}

// CreateTable creates table ("namespace.name") from a schema document.
func (w *Warehouse) CreateTable(t testing.TB, tbl, schemaYAML string) {
	t.Helper()
	s, err := columnar.ParseSchema("test schema", []byte(schemaYAML))
	require.NoError(t, err)
	cat := w.Open(t)
	ident, err := iceberg.ParseTable(tbl)
	require.NoError(t, err)
	if err := cat.CreateNamespace(t.Context(), catalog.NamespaceFromIdent(ident), nil); !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		require.NoError(t, err)
	}
	_, err = cat.CreateTable(t.Context(), ident, iceberg.TableSchema(s))
	require.NoError(t, err)
}

// Table loads a table.
func (w *Warehouse) Table(t testing.TB, tbl string) *table.Table {
	t.Helper()
	ident, err := iceberg.ParseTable(tbl)
	require.NoError(t, err)
	out, err := w.Open(t).LoadTable(t.Context(), ident)
	require.NoError(t, err)
	return out
}

// Rows scans a table with iceberg-go and returns each row as a map of
// column to value (as arrow's JSON form gives it); none when the table
// does not exist.
func (w *Warehouse) Rows(t testing.TB, tbl string) []map[string]any {
	t.Helper()
	ident, err := iceberg.ParseTable(tbl)
	require.NoError(t, err)
	tb, err := w.Open(t).LoadTable(t.Context(), ident)
	if err != nil {
		require.ErrorIs(t, err, catalog.ErrNoSuchTable)
		return nil
	}
	return Scan(t.Context(), t, tb)
}

// Scan reads every row of tbl's current snapshot.
func Scan(ctx context.Context, t testing.TB, tbl *table.Table) []map[string]any {
	t.Helper()
	at, err := tbl.Scan().ToArrowTable(ctx)
	require.NoError(t, err)
	defer at.Release()
	rd := array.NewTableReader(at, 4096)
	defer rd.Release()
	var out []map[string]any
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make(map[string]any, rec.NumCols())
			for c := 0; c < int(rec.NumCols()); c++ {
				row[rec.ColumnName(c)] = rec.Column(c).GetOneForMarshal(i)
			}
			out = append(out, row)
		}
	}
	require.NoError(t, rd.Err())
	return out
}

// Payloads reads a table of PayloadSchema back as sinktest records.
func (w *Warehouse) Payloads(t *testing.T, tbl string) []sinktest.Delivered {
	t.Helper()
	var out []sinktest.Delivered
	for _, row := range w.Rows(t, tbl) {
		data, err := json.Marshal(row)
		require.NoError(t, err)
		out = append(out, sinktest.Delivered{Data: data, Where: tbl})
	}
	return out
}

// PayloadSchema is the schema of sinktest.Payload's fields.
func PayloadSchema(t testing.TB) *columnar.Schema {
	t.Helper()
	s, err := columnar.ParseSchema("payload.yaml", []byte(`columns:
  - { name: id, type: string }
  - { name: shard, type: string }
  - { name: seq, type: int64 }
  - { name: sub, type: int32 }
  - { name: body, type: string }
`))
	require.NoError(t, err)
	return s
}
