//go:build integration

package iceberg_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/sinks/iceberg"
	"github.com/hydrant-io/hydrant/sinks/iceberg/icetest"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// A warehouse in a local directory (file://), as with a directory store:
// batches land once, each commit is one snapshot whose summary names
// the batch, and the table was created with the configured partition
// spec.
func TestLocalWarehouse_PartitionedSnapshots(t *testing.T) {
	pgtest.Admin(t)
	dir := t.TempDir()
	cat, err := iceberg.NewCatalog(iceberg.CatalogConfig{Name: "local-" + t.Name(), Kind: "sql", URI: pgtest.DSN(), Warehouse: "file://" + dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cat.Close() })
	schema, err := columnar.ParseSchema("events.yaml", []byte(`columns:
  - { name: id, type: string }
  - { name: seq, type: int64 }
  - { name: ts, type: timestamp }
  - { name: user, type: string }
`))
	require.NoError(t, err)
	tableName := fmt.Sprintf("local_%d.events", time.Now().UnixNano())
	day, bucket := mustField(t, "day(ts)"), mustField(t, "bucket(4, user)")
	s, err := iceberg.New(cat, iceberg.Config{Table: tableName, Schema: schema, PartitionBy: []iceberg.PartitionField{day, bucket}})
	require.NoError(t, err)

	base := time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC)
	recs := make([]record.Record, 40)
	for i := range recs {
		ts := base.Add(time.Duration(i) * 10 * time.Minute) // spans two days
		recs[i] = record.Record{Shard: sinktest.Shard(0), Seq: uint64(i + 1), Arrived: ts,
			Data: fmt.Appendf(nil, `{"id":"r%d","seq":%d,"ts":%q,"user":"u%d"}`, i, i+1, ts.Format(time.RFC3339), i%7)}
	}
	batches := sinktest.Cut(recs, 10)
	for _, b := range batches {
		require.NoError(t, s.Write(t.Context(), b))
	}
	// The same records again, cut differently (after a crash): nothing new.
	for _, b := range sinktest.Cut(recs[5:], 7) {
		require.NoError(t, s.Write(t.Context(), b))
	}

	c, err := cat.Open(t.Context())
	require.NoError(t, err)
	ident, _ := iceberg.ParseTable(tableName)
	tbl, err := c.LoadTable(t.Context(), ident)
	require.NoError(t, err)
	rows := icetest.Scan(t.Context(), t, tbl)
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = fmt.Sprint(r["id"])
	}
	sort.Strings(ids)
	want := make([]string, len(recs))
	for i := range recs {
		want[i] = fmt.Sprintf("r%d", i)
	}
	sort.Strings(want)
	require.Equal(t, want, ids)

	spec := tbl.Spec()
	require.Equal(t, 2, spec.NumFields(), "the partition spec: %v", spec)
	snaps := tbl.Metadata().Snapshots()
	require.Len(t, snaps, len(batches), "one snapshot per flush, none for batches already committed")
	last := tbl.CurrentSnapshot().Summary.Properties
	require.Equal(t, string(sinktest.Shard(0)), last[iceberg.PropShard])
	require.Equal(t, "40.0", last[iceberg.PropLast])
	require.Equal(t, sinktest.Pipeline, last[iceberg.PropPipeline])
	require.Equal(t, table.OpAppend, tbl.CurrentSnapshot().Summary.Operation)
}

func mustField(t *testing.T, s string) iceberg.PartitionField {
	f, err := iceberg.ParsePartitionField(s)
	require.NoError(t, err)
	return f
}
