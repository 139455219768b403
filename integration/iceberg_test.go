//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/iceberg"
	"github.com/hydrant-io/hydrant/sinks/iceberg/icetest"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
)

// iceSchema is the schema of the load's records (see pgLoad.run).
const iceSchema = `columns:
  - { name: id, type: string }
  - { name: producer, type: int32, from: .p }
  - { name: round, type: int32 }
  - { name: body, type: string }
`

// iceConfig writes a configuration with one pipeline "events" of shards
// shards and one iceberg destination per name in dests, all appending to
// table in warehouse w. Failed records go to the directory store "errors"
// at dir/errors.
func iceConfig(t *testing.T, w *icetest.Warehouse, dir, addr string, shards int, table string, dests ...string) string {
	t.Helper()
	errs := filepath.Join(dir, "errors")
	require.NoError(t, os.MkdirAll(errs, 0o755))
	schema := filepath.Join(dir, "events.yaml")
	require.NoError(t, os.WriteFile(schema, []byte(iceSchema), 0o644))
	s3 := w.Config("", w.S3HostPort()).S3
	var ds strings.Builder
	for _, name := range dests {
		fmt.Fprintf(&ds, `      - name: %s
        type: iceberg
        store: %s
        table: %s
        format: { type: parquet, schema: %s }
        buffer: { size: 1MiB, interval: 1s }
        retry: { duration: 1h }
        backup: { store: errors }
`, name, icetest.CatalogName, table, schema)
	}
	return writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  lake: { type: s3, endpoint: %q, access_key_id: %q, secret_access_key: %q, path_style: true }
  %s: { type: iceberg, catalog: sql, uri: %q, warehouse: %q, store: lake }
  errors: { type: directory, path: %s }
pipelines:
  - name: events
    stream: { shards: %d }
    destinations:
%s`, addr, filepath.Join(dir, "data"), s3.Endpoint, s3.AccessKeyID, s3.SecretAccessKey, icetest.CatalogName, pgtest.DSN(), w.Location, errs, shards, ds.String()))
}

// iceIDCounts counts each id's rows in table through iceberg-go's scan.
func iceIDCounts(t *testing.T, w *icetest.Warehouse, table string) func() (map[string]int, error) {
	return func() (map[string]int, error) {
		counts := map[string]int{}
		for _, row := range w.Rows(t, table) {
			counts[fmt.Sprint(row["id"])]++
		}
		return counts, nil
	}
}

// TestIceberg_KillNineExactlyOnce sends 100,000 records over both doors
// into a 2-shard pipeline appending to an Iceberg table the sink creates,
// killing the server with SIGKILL at random moments and restarting it on
// the same data dir. At the end chdb, reading the table through its own
// Iceberg implementation, finds every acknowledged record exactly once,
// and iceberg-go's scan agrees.
func TestIceberg_KillNineExactlyOnce(t *testing.T) {
	const (
		total     = 100_000
		kills     = 5
		producers = 6
	)
	w := icetest.NewWarehouse(t)
	table := w.Namespace(t) + ".events"
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := iceConfig(t, w, dir, addr, 2, table, "lake")

	load := newPGLoad(total)
	// Paced, so that the load spans many 1 s flushes and the kills land
	// among commits, not only among appends.
	srv, acked := killNineRounds(t, cfg, addr, load, kills, producers, total, 200*time.Millisecond)
	counts := waitDelivered(t, addr, table, acked, iceIDCounts(t, w, table))
	require.NoError(t, srv.stop())
	rows, dups := pgRequireExactlyOnce(t, counts, acked, total, filepath.Join(dir, "errors"))

	tbl := w.Table(t, table)
	c := chdbTable(t, w, tbl.Location())
	require.Equal(t, rows, c.rows, "chdb and iceberg-go read the same number of rows")
	require.Equal(t, rows, c.distinct, "chdb finds no id twice")
	require.Equal(t, len(counts), c.distinct)
	snaps := len(tbl.Metadata().Snapshots())
	t.Logf("kills=%d sent=%d acknowledged=%d rows=%d duplicates=%d unacknowledged but committed=%d snapshots=%d",
		kills, total, len(acked), rows, dups, len(counts)-len(acked), snaps)
	for _, id := range []string{pgID(0), pgID(total / 2), pgID(total - 1)} {
		if !acked[id] {
			continue
		}
		row := chdbRow(t, w, tbl.Location(), id)
		require.Equal(t, id, row["id"])
		require.Contains(t, row["body"], "record "+id+" of producer ")
		require.Equal(t, row["body"], fmt.Sprintf("record %s of producer %v", id, row["producer"]), "a whole row as sent")
	}
}

// TestIceberg_TwoDestinationsOneTable has two destinations of one
// pipeline append to the same table at once, so that their commits
// collide: every record is in the table exactly twice (once per
// destination), no batch lost or doubled.
func TestIceberg_TwoDestinationsOneTable(t *testing.T) {
	const total = 20_000
	w := icetest.NewWarehouse(t)
	table := w.Namespace(t) + ".events"
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := iceConfig(t, w, dir, addr, 2, table, "a", "b")
	srv := startServer(t, cfg, addr)
	load := newPGLoad(total)
	load.run(t.Context(), addr, 4, 0, total, 0)
	acked := load.ackedIDs()
	require.Len(t, acked, total)
	// pending() counts both destinations' backlogs: once it is 0 both
	// have committed everything.
	counts := waitDelivered(t, addr, table, acked, iceIDCounts(t, w, table))
	require.NoError(t, srv.stop())
	for id := range acked {
		require.Equal(t, 2, counts[id], "id %s: once per destination", id)
	}
	tbl := w.Table(t, table)
	byDest := map[string]int{}
	for _, s := range tbl.Metadata().Snapshots() {
		byDest[s.Summary.Properties["hydrant.destination"]]++
	}
	t.Logf("snapshots per destination: %v", byDest)
	require.Positive(t, byDest["a"])
	require.Positive(t, byDest["b"])
	c := chdbTable(t, w, tbl.Location())
	require.Equal(t, 2*total, c.rows)
	require.Equal(t, total, c.distinct)
}

// TestIceberg_MinIOOutageLosesNothingTwice stops MinIO for about 5 s
// while records keep arriving, so that data file writes and commits fail
// midway: once it is back every acknowledged record is in the table
// exactly once, and the table scans (no snapshot references a file that
// is not there).
func TestIceberg_MinIOOutageLosesNothingTwice(t *testing.T) {
	w := icetest.NewWarehouse(t)
	table := w.Namespace(t) + ".events"
	t.Cleanup(func() {
		if out, err := pgServices("minio-start"); err != nil {
			t.Errorf("restart MinIO: %v\n%s", err, out)
		}
	})
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := iceConfig(t, w, dir, addr, 2, table, "lake")
	srv := startServer(t, cfg, addr)
	load := newPGLoad(1_000_000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		load.run(t.Context(), addr, 4, 0, 1_000_000, 100*time.Millisecond)
	}()
	defer load.stop()
	before, during, after := outageDuringLoad(t, load, "minio-stop", "minio-start")
	<-done
	require.Positive(t, before)
	require.Positive(t, during, "records are accepted while MinIO is down")
	require.Positive(t, after)
	acked, sent := load.ackedIDs(), load.sent()
	counts := waitDelivered(t, addr, table, acked, iceIDCounts(t, w, table))
	st, _ := pgGetStatus(addr, "events")
	require.NoError(t, srv.stop())
	rows, dups := pgRequireExactlyOnce(t, counts, acked, sent, filepath.Join(dir, "errors"))
	var failed int64
	if len(st.Destinations) > 0 {
		failed = st.Destinations[0].Stats.FailedAttempts
	}
	c := chdbTable(t, w, w.Table(t, table).Location())
	require.Equal(t, rows, c.rows)
	require.Equal(t, rows, c.distinct)
	t.Logf("sent=%d acknowledged=%d rows=%d duplicates=%d failed attempts=%d", sent, len(acked), rows, dups, failed)
	require.Positive(t, failed, "the outage made deliveries fail and retry")
}

// chdbCounts is what chdb reads of a table.
type chdbCounts struct{ rows, distinct int }

// icebergS3 is chdb's table function over the table at location
// (s3://bucket/path) on the test MinIO.
func icebergS3(w *icetest.Warehouse, location string) string {
	s3 := w.Config("", w.S3HostPort()).S3
	url := s3.Endpoint + "/" + strings.TrimPrefix(location, "s3://")
	return fmt.Sprintf("icebergS3('%s', '%s', '%s')", url, s3.AccessKeyID, s3.SecretAccessKey)
}

// chdbTable counts a table's rows and distinct ids with chdb.
func chdbTable(t *testing.T, w *icetest.Warehouse, location string) chdbCounts {
	t.Helper()
	rows := query(t, readersDir(t), "chdb", fmt.Sprintf(
		"SELECT count() AS n, uniqExact(id) AS d FROM %s SETTINGS output_format_json_quote_64bit_integers=0", icebergS3(w, location)))
	require.Len(t, rows, 1)
	return chdbCounts{rows: int(rows[0]["n"].(float64)), distinct: int(rows[0]["d"].(float64))}
}

// chdbRow reads the row of id with chdb.
func chdbRow(t *testing.T, w *icetest.Warehouse, location, id string) map[string]any {
	t.Helper()
	rows := query(t, readersDir(t), "chdb", fmt.Sprintf("SELECT * FROM %s WHERE id = '%s'", icebergS3(w, location), id))
	require.Len(t, rows, 1, "id %s", id)
	return rows[0]
}

// TestIceberg_DirectoryStoreWarehouse runs the iceberg destination on a
// directory store without a warehouse key: the table lands under the
// store's path (<path>/warehouse), created by the first flush, and
// iceberg-go reads every record back.
func TestIceberg_DirectoryStoreWarehouse(t *testing.T) {
	const total = 2_000
	pgtest.Admin(t)
	dir, addr := t.TempDir(), freeAddr(t)
	lake := filepath.Join(dir, "lake")
	schema := filepath.Join(dir, "events.yaml")
	require.NoError(t, os.WriteFile(schema, []byte(iceSchema), 0o644))
	ns := fmt.Sprintf("dir_%d", time.Now().UnixNano())
	cfg := writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server: { listen: %s, data_dir: %s }
stores:
  lake: { type: directory, path: %s }
  %s: { type: iceberg, catalog: sql, uri: %q, store: lake }
pipelines:
  - name: events
    destinations:
      - name: table
        type: iceberg
        store: %s
        table: %s.events
        format: { type: parquet, schema: %s }
        partition_by: ["bucket(4, id)"]
        buffer: { size: 1MiB, interval: 1s }
`, addr, filepath.Join(dir, "data"), lake, icetest.CatalogName, pgtest.DSN(), icetest.CatalogName, ns, schema))
	srv := startServer(t, cfg, addr)
	load := newPGLoad(total)
	load.run(t.Context(), addr, 2, 0, total, 0)
	acked := load.ackedIDs()
	require.Len(t, acked, total)

	cat, err := iceberg.NewCatalog(iceberg.CatalogConfig{Name: icetest.CatalogName, Kind: "sql", URI: pgtest.DSN()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cat.Close() })
	counts := waitDelivered(t, addr, ns+".events", acked, func() (map[string]int, error) {
		c, err := cat.Open(t.Context())
		if err != nil {
			return nil, err
		}
		tbl, err := c.LoadTable(t.Context(), []string{ns, "events"})
		if err != nil {
			return nil, err
		}
		counts := map[string]int{}
		for _, row := range icetest.Scan(t.Context(), t, tbl) {
			counts[fmt.Sprint(row["id"])]++
		}
		return counts, nil
	})
	require.NoError(t, srv.stop())
	backups := filepath.Join(dir, "data", "backup") // the default backup store
	require.NoError(t, os.MkdirAll(backups, 0o755))
	pgRequireExactlyOnce(t, counts, acked, total, backups)
	data, err := filepath.Glob(filepath.Join(lake, "warehouse", ns+".db", "events", "data", "id_bucket=*", "*.parquet"))
	require.NoError(t, err)
	require.NotEmpty(t, data, "data files under the store's path, one directory per bucket")
}
