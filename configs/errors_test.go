package configs

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// head is a valid file whose last destination lines are open for more
// keys at 8 spaces of indentation; added lines start at line 9.
const head = `stores:
  local: { type: directory, path: ./lake }
pipelines:
  - name: p
    destinations:
      - name: d
        type: directory
        store: local
`

// icebergTail is a pipeline writing to the iceberg store "ice", to
// follow two store lines (its destination is at line 7).
const icebergTail = `pipelines:
  - name: p
    destinations:
      - { name: d, type: iceberg, store: ice, table: ns.t, partition_by: ["day(ts)"] }
`

// parseErrs parses src as "p.yaml" and returns each error's text.
func parseErrs(t *testing.T, src string, env map[string]string) []string {
	t.Helper()
	_, err := ParseWith("p.yaml", []byte(src), Options{
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Stat: func(path string) error {
			if strings.Contains(path, "missing") {
				return fs.ErrNotExist
			}
			return nil
		},
	})
	if err == nil {
		return nil
	}
	var errs Errors
	require.ErrorAs(t, err, &errs)
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

func TestParse_ErrorClasses(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"valid", head, nil},
		{"unknown top-level key", "pipline: []\n" + head,
			[]string{`p.yaml:1:1: pipline: unknown key "pipline" (did you mean "pipelines"?)`}},
		{"unknown nested key", head + "        bukcet: x\n",
			[]string{`p.yaml:9:9: pipelines[0].destinations[0].bukcet: unknown key "bukcet" (did you mean "bucket"?)`}},
		{"duplicate key", head + "        store: local\n",
			[]string{`p.yaml:9:9: pipelines[0].destinations[0].store: duplicate key "store" (first at line 8)`}},
		{"wrong kind: mapping for string", head + "        prefix: {a: b}\n",
			[]string{`p.yaml:9:17: pipelines[0].destinations[0].prefix: expected a string, got a mapping`}},
		{"wrong kind: string for sequence", head + "        processors: append_delimiter\n",
			[]string{`p.yaml:9:21: pipelines[0].destinations[0].processors: expected a sequence, got string "append_delimiter"`}},
		{"wrong kind: string for integer", "version: one\n" + head,
			[]string{`p.yaml:1:10: version: expected an integer, got string "one"`}},
		{"wrong kind: string for boolean", "stores:\n  s: { type: s3, path_style: yes }\n",
			[]string{
				`p.yaml:1:1: pipelines: at least one pipeline is required`,
				`p.yaml:2:30: stores.s.path_style: expected a boolean (true or false), got string "yes"`,
			}},
		{"integer out of range", "version: 99999999999999999999\n" + head,
			[]string{`p.yaml:1:10: version: integer 99999999999999999999 out of range`}},
		{"bad size", head + "        buffer: { size: 5 megs }\n",
			[]string{`p.yaml:9:25: pipelines[0].destinations[0].buffer.size: invalid size "5 megs": unknown unit "megs" (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`}},
		{"bad duration", head + "        buffer: { interval: 300 }\n",
			[]string{`p.yaml:9:29: pipelines[0].destinations[0].buffer.interval: invalid duration "300": missing unit (e.g. 300s)`}},
		{"negative duration", head + "        retry: { duration: -1s }\n",
			[]string{`p.yaml:9:28: pipelines[0].destinations[0].retry.duration: duration must not be negative`}},
		{"shards not a number", "pipelines:\n  - name: p\n    stream: { shards: many }\n",
			[]string{
				`p.yaml:2:5: pipelines[0].destinations: at least one destination is required`,
				`p.yaml:3:23: pipelines[0].stream.shards: expected an integer or "on-demand", got string "many"`,
			}},
		{"shards out of range", "pipelines:\n  - name: p\n    stream: { shards: 2000 }\n",
			[]string{
				`p.yaml:2:5: pipelines[0].destinations: at least one destination is required`,
				`p.yaml:3:23: pipelines[0].stream.shards: must be between 1 and 1024 or "on-demand", got 2000`,
			}},
		{"version", "version: 2\n" + head,
			[]string{`p.yaml:1:10: version: unsupported version 2: must be 1`}},
		{"no pipelines", "server: { listen: 127.0.0.1:1 }\n",
			[]string{`p.yaml:1:1: pipelines: at least one pipeline is required`}},
		{"invalid YAML", "pipelines:\n  - name: [\n",
			[]string{`p.yaml:2:1: invalid YAML: did not find expected node content`}},
		{"root not a mapping", "- a\n- b\n",
			[]string{`p.yaml:1:1: expected a mapping, got a sequence`}},
		{"two documents", head + "---\nversion: 1\n",
			[]string{`p.yaml:9:1: the file holds more than one YAML document`}},
		{"listen", "server: { listen: localhost }\n" + head,
			[]string{`p.yaml:1:19: server.listen: invalid listen address "localhost": want host:port`}},
		{"listen port", "server: { listen: \"localhost:http\" }\n" + head,
			[]string{`p.yaml:1:19: server.listen: invalid port "http" in listen address: want 0..65535`}},
		{"empty api key", "server: { auth: { api_keys: [\"\"] } }\n" + head,
			[]string{`p.yaml:1:30: server.auth.api_keys[0]: API key must not be empty`}},
		{"record larger than request", "server: { limits: { max_request_bytes: 1MiB, max_record_bytes: 2MiB } }\n" + head,
			[]string{`p.yaml:1:64: server.limits.max_record_bytes: must not exceed max_request_bytes (1MiB), got 2MiB`}},
		{"pipeline name charset", strings.Replace(head, "name: p", "name: my pipe", 1),
			[]string{`p.yaml:4:11: pipelines[0].name: invalid pipeline name "my pipe": want 1 to 64 characters from [a-zA-Z0-9_.-]`}},
		{"pipeline name missing", strings.Replace(head, "  - name: p\n    destinations:", "  - destinations:", 1),
			[]string{`p.yaml:4:5: pipelines[0].name: name is required`}},
		{"duplicate pipeline", head + strings.SplitAfterN(head, "\n", 4)[3],
			[]string{`p.yaml:9:11: pipelines[1].name: duplicate pipeline name "p" (also pipelines[0])`}},
		{"destination name charset", strings.Replace(head, "name: d", "name: d.1", 1),
			[]string{`p.yaml:6:15: pipelines[0].destinations[0].name: invalid destination name "d.1": want 1 to 64 characters from [a-zA-Z0-9_-]`}},
		{"duplicate destination", head + "      - { name: d, type: directory, store: local }\n",
			[]string{`p.yaml:9:17: pipelines[0].destinations[1].name: duplicate destination name "d" (also destinations[0])`}},
		{"no destinations", "pipelines:\n  - name: p\n",
			[]string{`p.yaml:2:5: pipelines[0].destinations: at least one destination is required`}},
		{"unknown destination type", strings.Replace(head, "type: directory\n", "type: kafka\n", 1),
			[]string{`p.yaml:7:15: pipelines[0].destinations[0].type: unknown destination type "kafka" (want one of directory, discard, http, iceberg, opensearch, postgres, redshift, s3)`}},
		{"store not defined", strings.Replace(head, "store: local", "store: lake", 1),
			[]string{`p.yaml:8:16: pipelines[0].destinations[0].store: store "lake" is not defined (stores: local)`}},
		{"store of wrong type", "stores:\n  pg: { type: postgres, dsn: x }\npipelines:\n  - name: p\n    destinations:\n      - { name: d, type: s3, store: pg, bucket: b }\n",
			[]string{
				`p.yaml:6:37: pipelines[0].destinations[0].store: store "pg" has type postgres; an s3 or directory store is required`,
			}},
		{"bucket required for s3 store", "stores:\n  s3: { type: s3 }\npipelines:\n  - name: p\n    destinations:\n      - { name: d, type: s3, store: s3 }\n",
			[]string{
				`p.yaml:6:9: pipelines[0].destinations[0].bucket: bucket is required with s3 store "s3"`,
			}},
		{"iceberg valid on a directory store", "stores:\n  local: { type: directory, path: ./lake }\n  ice: { type: iceberg, catalog: sql, uri: \"postgres://h/db\", store: local }\n" + icebergTail,
			nil},
		{"iceberg valid on an s3 store", "stores:\n  s3: { type: s3 }\n  ice: { type: iceberg, catalog: rest, uri: \"http://cat:8181\", store: s3, warehouse: \"s3://b/wh\", credential: \"id:secret\" }\n" + icebergTail,
			nil},
		{"iceberg warehouse required on an s3 store", "stores:\n  s3: { type: s3 }\n  ice: { type: iceberg, catalog: sql, uri: \"postgres://h/db\", store: s3 }\n" + icebergTail,
			[]string{`p.yaml:3:8: stores.ice.warehouse: an s3 store's warehouse is required as s3://bucket/path, got ""`}},
		{"iceberg warehouse not s3 on an s3 store", "stores:\n  s3: { type: s3 }\n  ice: { type: iceberg, catalog: sql, uri: \"postgres://h/db\", store: s3, warehouse: \"file:///wh\" }\n" + icebergTail,
			[]string{`p.yaml:3:85: stores.ice.warehouse: an s3 store's warehouse is required as s3://bucket/path, got "file:///wh"`}},
		{"iceberg warehouse without bucket", "stores:\n  s3: { type: s3 }\n  ice: { type: iceberg, catalog: sql, uri: \"postgres://h/db\", store: s3, warehouse: \"s3://\" }\n" + icebergTail,
			[]string{`p.yaml:3:85: stores.ice.warehouse: names no bucket: want s3://bucket/path`}},
		{"iceberg warehouse with an empty bucket", "stores:\n  s3: { type: s3 }\n  ice: { type: iceberg, catalog: sql, uri: \"postgres://h/db\", store: s3, warehouse: \"s3:///wh\" }\n" + icebergTail,
			[]string{`p.yaml:3:85: stores.ice.warehouse: names no bucket: want s3://bucket/path`}},
		{"iceberg relative warehouse on a directory store", "stores:\n  local: { type: directory, path: ./lake }\n  ice: { type: iceberg, catalog: sql, uri: \"postgres://h/db\", store: local, warehouse: relative/path }\n" + icebergTail,
			[]string{`p.yaml:3:88: stores.ice.warehouse: a directory store's warehouse is file:///absolute/path (or leave it out: <path>/warehouse), got "relative/path"`}},
		{"iceberg credential and token on a sql catalog", "stores:\n  local: { type: directory, path: ./lake }\n  ice: { type: iceberg, catalog: sql, uri: \"postgres://h/db\", store: local, credential: \"id:secret\", token: t }\n" + icebergTail,
			[]string{
				`p.yaml:3:89: stores.ice.credential: applies to catalog: rest only`,
				`p.yaml:3:109: stores.ice.token: applies to catalog: rest only`,
			}},
		{"key of another type", head + "        index: clicks\n",
			[]string{`p.yaml:9:9: pipelines[0].destinations[0].index: key "index" does not apply to destination type "directory"`}},
		{"store key of another type", "stores:\n  local: { type: directory, path: ./lake, dsn: x }\n" + strings.SplitAfterN(head, "\n", 3)[2],
			[]string{`p.yaml:2:43: stores.local.dsn: key "dsn" does not apply to store type "directory"`}},
		{"buffer out of range", head + "        buffer: { size: 200MiB, interval: 901s }\n",
			[]string{
				`p.yaml:9:25: pipelines[0].destinations[0].buffer.size: must be between 1MiB and 128MiB, got 200MiB`,
				`p.yaml:9:43: pipelines[0].destinations[0].buffer.interval: must be between 0s and 15m0s, got 15m1s`,
			}},
		{"buffer cap below one buffer", head + "        buffer: { size: 8MiB, max_bytes: 4MiB }\n",
			[]string{`p.yaml:9:42: pipelines[0].destinations[0].buffer.max_bytes: must be at least buffer.size (8MiB), got 4MiB`}},
		{"buffer cap below a defaulted size", head + "        format: { type: parquet, schema: s.yaml }\n        buffer: { max_bytes: 64MiB }\n",
			[]string{`p.yaml:10:30: pipelines[0].destinations[0].buffer.max_bytes: must be at least buffer.size (128MiB), got 64MiB`}},
		{"bad buffer cap", head + "        buffer: { max_bytes: lots }\n",
			[]string{`p.yaml:9:30: pipelines[0].destinations[0].buffer.max_bytes: invalid size "lots": want a number and a unit such as 512KiB, 64MiB, 1GiB, 5MB`}},
		{"retry out of range", head + "        retry: { duration: 25h }\n",
			[]string{`p.yaml:9:28: pipelines[0].destinations[0].retry.duration: must be between 0s and 24h0m0s for directory destinations, got 25h0m0s`}},
		{"enum", head + "        compression: lz4\n",
			[]string{`p.yaml:9:22: pipelines[0].destinations[0].compression: invalid value "lz4" (want one of none, gzip, snappy, hadoop_snappy, zip, zstd)`}},
		{"parquet needs a schema", head + "        format: { type: parquet }\n",
			[]string{`p.yaml:9:17: pipelines[0].destinations[0].format.schema: a schema is required for parquet`}},
		{"schema file missing", head + "        format: { type: orc, schema: missing.yaml }\n",
			[]string{`p.yaml:9:38: pipelines[0].destinations[0].format.schema: file missing.yaml does not exist`}},
		{"unknown processor", head + "        processors: [{ type: gzip }]\n",
			[]string{`p.yaml:9:30: pipelines[0].destinations[0].processors[0].type: unknown processor type "gzip" (want one of append_delimiter, deaggregate, decompress, exec, jq_metadata, lambda, wasm)`}},
		{"deaggregate mode", head + "        processors: [{ type: deaggregate, mode: xml }, { type: deaggregate, mode: delimited }]\n",
			[]string{
				`p.yaml:9:49: pipelines[0].destinations[0].processors[0].mode: must be one of kpl, json, delimited, got "xml"`,
				`p.yaml:9:56: pipelines[0].destinations[0].processors[1].delimiter: is required with mode: delimited`,
			}},
		{"processor required fields", head + "        processors: [{ type: wasm }, { type: lambda }, { type: exec }]\n",
			[]string{
				`p.yaml:9:22: pipelines[0].destinations[0].processors[0].module: module is required`,
				`p.yaml:9:38: pipelines[0].destinations[0].processors[1].url: url is required`,
				`p.yaml:9:56: pipelines[0].destinations[0].processors[2].command: command is required (a non-empty argv list)`,
			}},
		{"decompress budgets", head + "        processors: [{ type: decompress, max_record_bytes: 512B, max_batch_bytes: 5GiB }, { type: decompress, max_record_bytes: 8MiB, max_batch_bytes: 4MiB }]\n",
			[]string{
				`p.yaml:9:60: pipelines[0].destinations[0].processors[0].max_record_bytes: must be between 1KiB and 4GiB, got 512B`,
				`p.yaml:9:83: pipelines[0].destinations[0].processors[0].max_batch_bytes: must be between 1KiB and 4GiB, got 5GiB`,
				`p.yaml:9:152: pipelines[0].destinations[0].processors[1].max_batch_bytes: must be at least max_record_bytes (8MiB), got 4MiB`,
			}},
		{"decompress batch below a defaulted record limit", head + "        processors: [{ type: decompress, max_batch_bytes: 1MiB }]\n",
			[]string{`p.yaml:9:59: pipelines[0].destinations[0].processors[0].max_batch_bytes: must be at least max_record_bytes (64MiB), got 1MiB`}},
		{"exec env", head + "        processors: [{ type: exec, command: [x], env: { \"A=B\": x, \"1X\": y, OK: \"a\\0b\" } }]\n",
			[]string{
				`p.yaml:9:57: pipelines[0].destinations[0].processors[0].env["A=B"]: invalid variable name "A=B": want [A-Za-z_][A-Za-z0-9_]*`,
				`p.yaml:9:67: pipelines[0].destinations[0].processors[0].env.1X: invalid variable name "1X": want [A-Za-z_][A-Za-z0-9_]*`,
				`p.yaml:9:80: pipelines[0].destinations[0].processors[0].env.OK: value must not contain NUL`,
			}},
		{"env only on exec", head + "        processors: [{ type: lambda, url: \"http://l\", env: { A: b } }]\n",
			[]string{`p.yaml:9:55: pipelines[0].destinations[0].processors[0].env: key "env" does not apply to processor type "lambda"`}},
		{"wasm module missing", head + "        processors: [{ type: wasm, module: missing.wasm }]\n",
			[]string{`p.yaml:9:44: pipelines[0].destinations[0].processors[0].module: file missing.wasm does not exist`}},
		{"jq does not compile", head + "        processors: [{ type: jq_metadata, partition_keys: { k: \".a |\" } }]\n",
			[]string{`p.yaml:9:64: pipelines[0].destinations[0].processors[0].partition_keys.k: invalid jq expression ".a |": unexpected EOF`}},
		{"jq unknown function", "pipelines:\n  - name: p\n    stream: { partition_key: nosuch(.a) }\n    destinations: [{ name: d, type: http, url: \"http://x\" }]\n",
			[]string{`p.yaml:3:30: pipelines[0].stream.partition_key: invalid jq expression "nosuch(.a)": function not defined: nosuch/1`}},
		{"prefix namespace", head + "        prefix: \"!{date:yyyy}/\"\n",
			[]string{`p.yaml:9:17: pipelines[0].destinations[0].prefix: unknown namespace "date" in !{date:yyyy} (want timestamp, partitionKeyFromQuery, partitionKeyFromLambda or firehose)`}},
		{"prefix undefined partition key", head + "        prefix: \"c=!{partitionKeyFromQuery:customer}/\"\n",
			[]string{`p.yaml:9:17: pipelines[0].destinations[0].prefix: partition key "customer" is not defined by a jq_metadata processor of this pipeline or destination`}},
		{"error type outside error prefix", head + "        prefix: \"!{firehose:error-output-type}/\"\n",
			[]string{`p.yaml:9:17: pipelines[0].destinations[0].prefix: !{firehose:error-output-type} is only allowed in error_output_prefix`}},
		{"error prefix without error type", head + "        error_output_prefix: \"errors/\"\n",
			[]string{`p.yaml:9:30: pipelines[0].destinations[0].error_output_prefix: must contain !{firehose:error-output-type}`}},
		{"unterminated expression", head + "        prefix: \"!{timestamp:yyyy\"\n",
			[]string{`p.yaml:9:17: pipelines[0].destinations[0].prefix: unterminated expression !{timestamp:yyyy: missing '}'`}},
		{"http url", "pipelines:\n  - name: p\n    destinations: [{ name: d, type: http, url: \"ftp://x\" }]\n",
			[]string{`p.yaml:3:48: pipelines[0].destinations[0].url: invalid URL "ftp://x": want http:// or https:// with a host`}},
		{"backup mode", head + "        backup: { mode: sometimes }\n",
			[]string{`p.yaml:9:25: pipelines[0].destinations[0].backup.mode: invalid value "sometimes" (want one of failed_only, all)`}},
		{"alias to missing store", "x: &a 1\n" + head,
			[]string{`p.yaml:1:1: x: unknown key "x"`}},
		{"opensearch", "stores:\n  os: { type: opensearch, addresses: [\"http://o:9200\"] }\npipelines:\n  - name: p\n    destinations:\n      - { name: d, type: opensearch, store: os, index: Clicks, rotation: hourly }\n",
			[]string{
				`p.yaml:6:56: pipelines[0].destinations[0].index: invalid index name "Clicks": lowercase, no spaces or \/*?"<>|,#:, not starting with _ - +`,
				`p.yaml:6:74: pipelines[0].destinations[0].rotation: invalid value "hourly" (want one of none, one_hour, one_day, one_week, one_month)`,
			}},
		{"decode error suppresses its range error", head + "        buffer: { size: huge }\n",
			[]string{`p.yaml:9:25: pipelines[0].destinations[0].buffer.size: invalid size "huge": want a number and a unit such as 512KiB, 64MiB, 1GiB, 5MB`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, parseErrs(t, tt.src, nil))
		})
	}
}

func TestParse_ReportsEveryErrorInOneRun(t *testing.T) {
	src := `version: 3
server:
  listen: nope
  limits: { max_records_per_request: lots }
stores:
  local: { type: directory }
pipelines:
  - name: p
    colour: blue
    destinations:
      - name: d
        type: directory
        store: local
        buffer: { size: 1KiB, interval: 1h }
`
	require.Equal(t, []string{
		`p.yaml:1:10: version: unsupported version 3: must be 1`,
		`p.yaml:3:11: server.listen: invalid listen address "nope": want host:port`,
		`p.yaml:4:38: server.limits.max_records_per_request: expected an integer, got string "lots"`,
		`p.yaml:6:10: stores.local.path: path is required`,
		`p.yaml:9:5: pipelines[0].colour: unknown key "colour"`,
		`p.yaml:14:25: pipelines[0].destinations[0].buffer.size: must be between 1MiB and 128MiB, got 1KiB`,
		`p.yaml:14:41: pipelines[0].destinations[0].buffer.interval: must be between 0s and 15m0s, got 1h0m0s`,
	}, parseErrs(t, src, nil))
}
