//go:build integration

package iceberg_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
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

// Records a processor routed with Firehose's otfMetadata land in their
// table; a table that does not exist and an operation other than insert
// fail the record alone, permanently (iceberg-failed), and the rest of
// the batch is committed.
func TestRouting_OTFMetadata(t *testing.T) {
	w := icetest.NewWarehouse(t)
	ns := w.Namespace(t)
	main, other := ns+".events", ns+".other"
	s, err := iceberg.New(w.Catalog(t, pgtest.DSN(), w.S3HostPort()), iceberg.Config{Table: main, Schema: icetest.PayloadSchema(t)})
	require.NoError(t, err)
	// Commit once so that the namespace exists, then add the routed table.
	first := sinktest.Records(sinktest.Shard(0), 1, 2, 1)
	require.NoError(t, s.Write(t.Context(), sinktest.Batch(first)))
	w.CreateTable(t, other, "columns:\n  - { name: id, type: string }\n  - { name: seq, type: int64 }\n")

	recs := sinktest.Records(sinktest.Shard(0), 3, 6, 1)
	route := func(i int, db, tbl, op string) {
		recs[i].Meta = map[string]string{record.OTFDatabase: db, record.OTFTable: tbl, record.OTFOperation: op}
	}
	route(1, ns, "other", "insert")
	route(2, "", "other", "") // the destination's namespace
	route(3, ns, "missing", "insert")
	route(4, ns, "other", "update")
	b := sinktest.Batch(recs)
	err = s.Write(t.Context(), b)
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Failed, 2, "the missing table and the update: %v", be.Failed)
	for _, i := range []int{3, 4} {
		require.Error(t, be.Failed[i], "record %d", i)
		require.True(t, sinks.IsPermanent(be.Failed[i]))
	}
	require.Contains(t, be.Failed[3].Error(), "does not exist")
	require.Contains(t, be.Failed[4].Error(), `operation "update"`)

	ids := func(tbl string) []string {
		var out []string
		for _, r := range w.Rows(t, tbl) {
			out = append(out, fmt.Sprint(r["id"]))
		}
		sort.Strings(out)
		return out
	}
	want := []string{first[0].ID, first[1].ID, recs[0].ID, recs[5].ID}
	sort.Strings(want)
	require.Equal(t, want, ids(main))
	wantOther := []string{recs[1].ID, recs[2].ID}
	sort.Strings(wantOther)
	require.Equal(t, wantOther, ids(other))

	// The retry of the failed records alone (as the runtime would not
	// make for permanent ones) and the whole batch again add nothing.
	require.NoError(t, s.Write(t.Context(), sinktest.Retry(b, 0, 1, 2, 5)))
	require.Equal(t, want, ids(main))
	require.Equal(t, wantOther, ids(other))
}

// A batch committed by a Write whose answer was lost comes again whole:
// its records are in the table already, but the one that failed
// conversion is reported again, so it still reaches the backup.
func TestRedelivery_ReportsConversionFailuresAgain(t *testing.T) {
	w := icetest.NewWarehouse(t)
	table := w.Namespace(t) + ".events"
	s, err := iceberg.New(w.Catalog(t, pgtest.DSN(), w.S3HostPort()), iceberg.Config{Table: table, Schema: icetest.PayloadSchema(t)})
	require.NoError(t, err)
	recs := sinktest.Records(sinktest.Shard(0), 1, 5, 1)
	recs[2].Data = []byte(`{"id":"bad","seq":"not a number"}`)
	for attempt := range 2 {
		err := s.Write(t.Context(), sinktest.Batch(recs))
		var be *sinks.BatchError
		require.ErrorAs(t, err, &be, "attempt %d", attempt)
		require.Len(t, be.Failed, 1)
		require.Contains(t, be.Failed, 2)
		require.True(t, sinks.IsPermanent(be.Failed[2]))
		require.Equal(t, record.FormatConversionFailed, record.ErrorType(be.Failed[2], ""))
	}
	require.Len(t, w.Rows(t, table), 4, "the good records once")
	require.Len(t, w.Table(t, table).Metadata().Snapshots(), 1, "the second Write commits nothing")
}
