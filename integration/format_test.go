//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/columnar"
)

// Format round trips: Hydrant's columnar encoder writes Parquet and ORC
// files with every type, nulls, nesting and compression; independent
// readers (chdb, i.e. ClickHouse, for both; DuckDB for Parquet) read them
// back and the values are compared with the source JSON. The readers come
// from tools/readers (scripts/services.sh up installs them); without them
// these tests fail.

const formatSchema = `
case_insensitive: true
columns:
  - {name: id,    type: int32}
  - {name: s,     type: string}
  - {name: l,     type: int64}
  - {name: f,     type: float}
  - {name: d,     type: double}
  - {name: b,     type: boolean}
  - {name: ts,    type: timestamp}
  - {name: dt,    type: date}
  - {name: dec,   type: "decimal(10,2)"}
  - {name: big,   type: "decimal(30,3)"}
  - {name: bin,   type: binary}
  - {name: tags,  type: "list<string>"}
  - {name: dev,   type: "struct<os:string,version:int32>"}
  - {name: attrs, type: "map<string,int32>"}
  - {name: os,    type: string, from: ".dev.os | ascii_upcase?"}
`

// formatRecords are the source records; the last two do not fit.
var formatRecords = []string{
	`{"id":1,"s":"héllo \"q\"","l":12345678901,"f":1.5,"d":-2.25,"b":true,"ts":"2024-01-02T03:04:05.123456Z","dt":"2024-02-29","dec":"12.345","big":"-123456789012345678901234.5678","bin":"aGVsbG8=","tags":["x",null,"y"],"dev":{"os":"linux","version":6},"attrs":{"k":1,"j":-2}}`,
	`{"id":2,"s":null,"ts":1700000000,"tags":[],"dev":{"os":null},"attrs":{}}`,
	`{"ID":3,"S":"upper keys","ts":1700000000123,"dec":-0.01,"b":false,"l":-9223372036854775808}`,
	`{"id":4,"ts":"1969-12-31T23:59:58.5Z","dt":"1901-01-01","big":99.5,"f":-0.0,"d":1e300}`,
	`{"id":5,"l":"not a number"}`,
	`[1,2,3]`,
}

// formatWant is what every reader must return, normalized (see
// normalize): int64 and timestamps (µs) as strings, decimals (without
// trailing fraction zeros) and dates as text, binary as base64.
var formatWant = []map[string]any{
	{"id": 1, "s": "héllo \"q\"", "l": "12345678901", "f": 1.5, "d": -2.25, "b": true, "ts": "1704164645123456",
		"dt": "2024-02-29", "dec": "12.35", "big": "-123456789012345678901234.568", "bin": "aGVsbG8=",
		"tags": []any{"x", nil, "y"}, "dev": map[string]any{"os": "linux", "version": 6}, "attrs": map[string]any{"k": 1, "j": -2}, "os": "LINUX"},
	{"id": 2, "s": nil, "l": nil, "f": nil, "d": nil, "b": nil, "ts": "1700000000000000", "dt": nil, "dec": nil, "big": nil, "bin": nil,
		"tags": []any{}, "dev": map[string]any{"os": nil, "version": nil}, "attrs": map[string]any{}, "os": nil},
	{"id": 3, "s": "upper keys", "l": "-9223372036854775808", "f": nil, "d": nil, "b": false, "ts": "1700000000123000", "dt": nil, "dec": "-0.01", "big": nil, "bin": nil,
		"tags": nil, "dev": nil, "attrs": nil, "os": nil},
	{"id": 4, "s": nil, "l": nil, "f": math.Copysign(0, -1), "d": 1e300, "b": nil, "ts": "-1500000", "dt": "1901-01-01", "dec": nil, "big": "99.5", "bin": nil,
		"tags": nil, "dev": nil, "attrs": nil, "os": nil},
}

// readersDir is tools/readers, where the readers are installed and where
// chdb can read files (only under its working directory).
func readersDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "tools", "readers"))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "node_modules", "chdb"))
	require.NoError(t, err, "readers missing: run scripts/services.sh up")
	_, err = os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api"))
	require.NoError(t, err, "readers missing: run scripts/services.sh up")
	_, err = os.Stat(filepath.Join(dir, "node_modules", "@chainsafe", "snappy-stream"))
	require.NoError(t, err, "readers missing: run scripts/services.sh up")
	return dir
}

// query runs sql with engine (chdb or duckdb) and returns its rows.
func query(t *testing.T, dir, engine, sql string) []map[string]any {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "node", "query.js", engine, sql)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s: %s\n%s", engine, sql, stderr.String())
	var rows []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r map[string]any
		require.NoError(t, dec.Decode(&r))
		rows = append(rows, r)
	}
	return rows
}

// writeFile encodes records into dir/name and returns the path relative
// to the readers directory, and the conversion errors.
func writeFile(t *testing.T, enc *columnar.Encoder, path string, records []string) []error {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := enc.NewWriter(f)
	var failed []error
	for _, r := range records {
		if err := w.Write([]byte(r)); err != nil {
			var ce *columnar.ConversionError
			require.ErrorAs(t, err, &ce)
			failed = append(failed, err)
		}
	}
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
	return failed
}

// chdbSQL and duckdbSQL select every column normalized to the shapes of
// formatWant.
func chdbSQL(file, format string) string {
	settings := "output_format_json_quote_64bit_integers=1"
	if format == "ORC" {
		settings += ", input_format_orc_dictionary_as_low_cardinality=0"
	}
	return fmt.Sprintf(`SELECT id, s, toString(l) AS l, f, d, b, toString(toUnixTimestamp64Micro(ts)) AS ts,
		toString(dt) AS dt, toString(dec) AS dec, toString(big) AS big, base64Encode(bin) AS bin,
		tags, dev, attrs, os FROM file('%s', %s) ORDER BY id SETTINGS %s`, file, format, settings)
}

func duckdbSQL(file string) string {
	return fmt.Sprintf(`SELECT id, s, CAST(l AS VARCHAR) AS l, f, d, b, CAST(epoch_us(ts) AS VARCHAR) AS ts,
		CAST(dt AS VARCHAR) AS dt, CAST(dec AS VARCHAR) AS dec, CAST(big AS VARCHAR) AS big, to_base64(bin) AS bin,
		tags, dev, map_from_entries(map_entries(attrs)) AS attrs, os FROM '%s' ORDER BY id`, file)
}

// normalize makes a reader's row comparable with formatWant: numbers as
// float64 unless they are strings, DuckDB maps as objects, and chdb's
// non-nullable composites (a null list reads as [], a null struct as all
// null fields, a null map as {}) mapped back to their input.
func normalize(engine string, row map[string]any, want map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range row {
		out[k] = v
	}
	if m, ok := out["attrs"].([]any); ok && engine == "duckdb" {
		obj := map[string]any{}
		for _, kv := range m {
			e := kv.(map[string]any)
			obj[e["key"].(string)] = e["value"]
		}
		out["attrs"] = obj
	}
	for _, k := range []string{"dec", "big"} { // DuckDB pads to the scale, ClickHouse does not
		if d, ok := out[k].(string); ok && strings.Contains(d, ".") {
			out[k] = strings.TrimSuffix(strings.TrimRight(d, "0"), ".")
		}
	}
	if engine == "chdb" {
		if want["tags"] == nil && isEmpty(out["tags"]) {
			out["tags"] = nil
		}
		if want["attrs"] == nil && isEmpty(out["attrs"]) {
			out["attrs"] = nil
		}
		if dev, ok := out["dev"].(map[string]any); ok && want["dev"] == nil && dev["os"] == nil && dev["version"] == nil {
			out["dev"] = nil
		}
		// ClickHouse renders a null string through base64Encode as "".
		if want["bin"] == nil && out["bin"] == "" {
			out["bin"] = nil
		}
	}
	return out
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return v == nil
}

// canonical round-trips v through JSON so that ints and float64s compare.
func canonical(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestFormat_RoundTrip(t *testing.T) {
	dir := readersDir(t)
	schema, err := columnar.ParseSchema("format.yaml", []byte(formatSchema))
	require.NoError(t, err)
	run, err := os.MkdirTemp(dir, "run-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(run) })

	cases := []struct {
		kind, compression string
		engines           []string
	}{
		{"parquet", "none", []string{"chdb", "duckdb"}},
		{"parquet", "snappy", []string{"chdb", "duckdb"}},
		{"parquet", "gzip", []string{"chdb", "duckdb"}},
		{"parquet", "zstd", []string{"chdb", "duckdb"}},
		{"orc", "none", []string{"chdb"}},
		{"orc", "snappy", []string{"chdb"}},
		{"orc", "zlib", []string{"chdb"}},
		{"orc", "zstd", []string{"chdb"}},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"-"+tc.compression, func(t *testing.T) {
			enc, err := columnar.NewEncoder(tc.kind, tc.compression, schema)
			require.NoError(t, err)
			path := filepath.Join(run, tc.compression+enc.Extension())
			failed := writeFile(t, enc, path, formatRecords)
			require.Len(t, failed, 2)
			require.Contains(t, failed[0].Error(), "column l")
			require.Contains(t, failed[1].Error(), "not a JSON object")
			rel, err := filepath.Rel(dir, path)
			require.NoError(t, err)
			for _, engine := range tc.engines {
				sql := duckdbSQL(rel)
				if engine == "chdb" {
					sql = chdbSQL(rel, strings.ToUpper(map[string]string{"parquet": "Parquet", "orc": "ORC"}[tc.kind]))
				}
				rows := query(t, dir, engine, sql)
				require.Len(t, rows, len(formatWant), engine)
				for i, want := range formatWant {
					got := normalize(engine, rows[i], want)
					require.Equal(t, canonical(t, want), canonical(t, got), "%s row %d", engine, i)
				}
			}
		})
	}
}

// TestFormat_ManyBlocks writes enough rows for several row groups or
// stripes and checks that every row arrives, in order.
func TestFormat_ManyBlocks(t *testing.T) {
	dir := readersDir(t)
	schema, err := columnar.ParseSchema("blocks.yaml", []byte(`
columns:
  - {name: id, type: int64}
  - {name: name, type: string}
  - {name: vals, type: "list<double>"}
`))
	require.NoError(t, err)
	run, err := os.MkdirTemp(dir, "run-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(run) })
	const n = 5000
	records := make([]string, n)
	for i := range records {
		records[i] = fmt.Sprintf(`{"id":%d,"name":"row-%d","vals":[%d.5,%d]}`, i, i, i, -i)
	}
	for _, kind := range []string{"parquet", "orc"} {
		t.Run(kind, func(t *testing.T) {
			enc, err := columnar.NewEncoder(kind, "zstd", schema, columnar.WithBlockBytes(16<<10))
			require.NoError(t, err)
			path := filepath.Join(run, "many"+enc.Extension())
			require.Empty(t, writeFile(t, enc, path, records))
			rel, err := filepath.Rel(dir, path)
			require.NoError(t, err)
			format := map[string]string{"parquet": "Parquet", "orc": "ORC"}[kind]
			rows := query(t, dir, "chdb", fmt.Sprintf(`SELECT count() AS n, toString(sum(id)) AS ids,
				countIf(name = concat('row-', toString(id)) AND length(vals) = 2) AS good,
				sum(vals[1]) AS firsts, sum(vals[2]) AS seconds
				FROM file('%s', %s)`, rel, format))
			require.Equal(t, []map[string]any{{"n": float64(n), "ids": fmt.Sprint(n * (n - 1) / 2), "good": float64(n),
				"firsts": float64(n * n / 2), "seconds": -float64(n * (n - 1) / 2)}}, rows)
		})
	}
}
