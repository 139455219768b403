//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scrapeMetrics reads /metrics into series -> value.
func scrapeMetrics(t *testing.T, addr string) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}

// download copies every object under prefix into dir (flat, numbered, with
// ext) and returns how many there were.
func download(t *testing.T, bucket, prefix, dir, ext string) int {
	t.Helper()
	n := 0
	for key, body := range listObjects(t, bucket, prefix) {
		require.True(t, strings.HasSuffix(key, ext), key)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d%s", n, ext)), body, 0o644))
		n++
	}
	return n
}

// The server converts JSON to Parquet (zstd, partitioned) and ORC (snappy)
// on MinIO; DuckDB and ClickHouse (chdb) read the objects; records that do
// not fit the schema are in the backup as format-conversion-failed.
func TestS3Delivery_ParquetAndORCAreReadByIndependentReaders(t *testing.T) {
	readers := readersDir(t)
	lake, backup := mustBucket(t, t.Name()), mustBucket(t, t.Name()+"-backup")
	dir, addr := t.TempDir(), freeAddr(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "orders.yaml"), []byte(`columns:
  - { name: id, type: int64 }
  - { name: shop, type: string }
  - { name: ts, type: timestamp, from: .time }
  - { name: price, type: "decimal(10,2)" }
  - { name: tags, type: "list<string>" }
`), 0o644))
	cfg := s3Config(t, dir, addr, fmt.Sprintf(`  - name: orders
    processors:
      - { type: jq_metadata, partition_keys: { shop: .shop } }
    destinations:
      - name: lake
        type: s3
        store: lake
        bucket: %[1]s
        prefix: "parquet/shop=!{partitionKeyFromQuery:shop}/"
        format: { type: parquet, schema: orders.yaml, compression: zstd }
        buffer: { size: 1MiB, interval: 0s }
        backup: { store: lake, bucket: %[2]s }
      - name: orc
        type: s3
        store: lake
        bucket: %[1]s
        prefix: "orc/"
        error_output_prefix: "orc-errors/!{firehose:error-output-type}/"
        format: { type: orc, schema: orders.yaml }
        buffer: { size: 1MiB, interval: 0s }
        backup: { store: lake, bucket: %[2]s }
`, lake, backup))
	srv := startServer(t, cfg, addr)

	const good = 300
	var lines []string
	var idSum int64
	for i := range good {
		lines = append(lines, fmt.Sprintf(`{"id":%d,"shop":"s%d","time":%d,"price":"%d.%02d","tags":["a","t%d"]}`,
			i, i%2, 1700000000000+int64(i), i, i%100, i))
		idSum += int64(i)
	}
	bad := []string{`{"id":"seven","shop":"s0"}`, `{"id":1,"shop":"s1","time":"yesterday"}`, `{"id":2,"shop":"s0","price":123456789012}`}
	lines = append(lines, bad...)
	sendLines(t, addr, "orders", lines)

	waitFor(t, time.Minute, "delivery to both destinations", func() bool {
		d := getPipeline(t, addr, "orders").delivered()
		return d["lake"] == good && d["orc"] == good
	})
	checkBackups(t, backup, "format-conversion-failed/", "Format.Conversion.Failed", bad)
	metrics := scrapeMetrics(t, addr)
	for _, dest := range []string{"lake", "orc"} {
		labels := `{destination="` + dest + `",pipeline="orders"}`
		require.Equal(t, fmt.Sprint(good), metrics["hydrant_succeed_conversion_records_total"+labels], dest)
		require.Equal(t, fmt.Sprint(len(bad)), metrics["hydrant_failed_conversion_records_total"+labels], dest)
	}

	run, err := os.MkdirTemp(readers, "run-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(run) })
	rel := filepath.Base(run)
	for _, shop := range []string{"s0", "s1"} {
		sub := filepath.Join(run, shop)
		require.NoError(t, os.Mkdir(sub, 0o755))
		require.Positive(t, download(t, lake, "parquet/shop="+shop+"/", sub, ".parquet"))
		rows := query(t, readers, "duckdb", fmt.Sprintf(
			`SELECT count(*) AS n, CAST(sum(id) AS VARCHAR) AS ids, count(DISTINCT shop) AS shops, min(shop) AS shop FROM '%s/%s/*.parquet'`, rel, shop))
		require.Len(t, rows, 1)
		require.Equal(t, fmt.Sprint(good/2), fmt.Sprint(rows[0]["n"]), "DuckDB counts the %s partition", shop)
		require.Equal(t, "1", fmt.Sprint(rows[0]["shops"]))
		require.Equal(t, shop, rows[0]["shop"], "the partition holds only its shop")
	}
	rows := query(t, readers, "duckdb", fmt.Sprintf(
		`SELECT count(*) AS n, CAST(sum(id) AS VARCHAR) AS ids FROM '%s/*/*.parquet'`, rel))
	require.Equal(t, fmt.Sprint(good), fmt.Sprint(rows[0]["n"]))
	require.Equal(t, fmt.Sprint(idSum), rows[0]["ids"])
	rows = query(t, readers, "duckdb", fmt.Sprintf(
		`SELECT CAST(epoch_ms(ts) AS VARCHAR) AS ts, CAST(price AS VARCHAR) AS price, tags FROM '%s/*/*.parquet' WHERE id = 123`, rel))
	require.Equal(t, []map[string]any{{"ts": "1700000000123", "price": "123.23", "tags": []any{"a", "t123"}}}, rows)

	orcDir := filepath.Join(run, "orc")
	require.NoError(t, os.Mkdir(orcDir, 0o755))
	require.Positive(t, download(t, lake, "orc/", orcDir, ".orc"))
	rows = query(t, readers, "chdb", fmt.Sprintf(
		`SELECT count() AS n, toString(sum(id)) AS ids, toString(toUnixTimestamp64Milli(max(ts))) AS last, toString(toInt64(sum(price) * 100)) AS cents
		FROM file('%s/orc/*.orc', ORC)`, rel))
	require.Len(t, rows, 1)
	require.Equal(t, fmt.Sprint(good), fmt.Sprint(rows[0]["n"]), "ClickHouse counts the ORC rows")
	require.Equal(t, fmt.Sprint(idSum), rows[0]["ids"])
	require.Equal(t, fmt.Sprint(1700000000000+good-1), rows[0]["last"])
	var total int64
	for i := range good {
		total += int64(i)*100 + int64(i%100)
	}
	require.Equal(t, fmt.Sprint(total), rows[0]["cents"], "the decimals add up to the cent")

	orcErrors := 0
	for _, body := range listObjects(t, backup, "orc-errors/") {
		orcErrors += len(linesOf(body))
	}
	require.Equal(t, len(bad), orcErrors, "the ORC destination backs up the same records")
	require.NoError(t, srv.stop())
}
