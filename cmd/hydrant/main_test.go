package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestCLI_ExitCodes(t *testing.T) {
	code, _, errOut := runCmd(t)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "Usage:")

	code, _, errOut = runCmd(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)

	code, out, _ := runCmd(t, "version")
	require.Equal(t, 0, code)
	require.Contains(t, out, "hydrant dev")

	code, _, errOut = runCmd(t, "validate")
	require.Equal(t, 2, code, "validate without --config is a usage error")
	require.Contains(t, errOut, "--config")

	code, _, errOut = runCmd(t, "serve", "--no-such-flag")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "no-such-flag")

	for _, cmd := range []string{"serve", "validate"} {
		code, _, errOut = runCmd(t, cmd, "--help")
		require.Equal(t, 0, code, cmd)
		require.Contains(t, errOut, "Usage: hydrant "+cmd)
	}
}

func TestValidate_ReportsEveryErrorWithPosition(t *testing.T) {
	path := writeFile(t, "bad.yaml", `stores:
  local: { type: directory, path: ./lake }
pipelines:
  - name: events
    destinations:
      - name: lake
        type: directory
        store: nope
        buffer: { size: 500MiB }
        bogus: 1
`)
	code, out, errOut := runCmd(t, "validate", "--config", path)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Equal(t, []string{
		path + `:8:16: pipelines[0].destinations[0].store: store "nope" is not defined (stores: local)`,
		path + `:9:25: pipelines[0].destinations[0].buffer.size: must be between 1MiB and 128MiB, got 500MiB`,
		path + `:10:9: pipelines[0].destinations[0].bogus: unknown key "bogus"`,
	}, lines)
}

func TestValidate_ChecksJavaPatternLetters(t *testing.T) {
	path := writeFile(t, "bad.yaml", `stores:
  local: { type: directory, path: ./lake }
pipelines:
  - name: events
    destinations:
      - { name: lake, type: directory, store: local, prefix: "x/!{timestamp:yyyy-qq}/" }
`)
	code, _, errOut := runCmd(t, "validate", "--config", path)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, path+":6:62: pipelines[0].destinations[0].prefix: ")
	require.Contains(t, errOut, "unsupported pattern letter 'q'")
}

func TestValidate_OKPrintsOneLinePerPipeline(t *testing.T) {
	code, out, errOut := runCmd(t, "validate", "--config", "../../configs/examples/dynamic-partitioning.yaml")
	require.Equal(t, 0, code, errOut)
	require.True(t, strings.HasPrefix(out, "ok\n"), out)
	require.Contains(t, out, "pipeline orders: 4 shards, 2 processors")
}

// validate builds every processor as serve would: the full example names
// an exec program that is not there, and a wasm module that is not wasm
// is reported at its position.
func TestValidate_ChecksProcessorsAsServeWould(t *testing.T) {
	code, _, errOut := runCmd(t, "validate", "--config", "../../configs/examples/full.yaml")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "full.yaml:43:9: pipelines[0].processors[2]: exec: command ")
	require.Contains(t, errOut, "bin/mask-pii: stat ")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.wasm"), []byte("not a module"), 0o644))
	path := filepath.Join(dir, "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`stores:
  local: { type: directory, path: ./lake }
pipelines:
  - name: events
    destinations:
      - name: lake
        type: directory
        store: local
        processors:
          - { type: lambda, url: "http://127.0.0.1:9/transform" }
          - { type: wasm, module: bad.wasm }
`), 0o644))
	code, _, errOut = runCmd(t, "validate", "--config", path)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, path+":11:13: pipelines[0].destinations[0].processors[1]: wasm: ")
}

// An iceberg destination's partition spec is read when the sink is built;
// a bad field is reported at its position by serve and validate alike.
func TestServe_IcebergPartitionErrorsNameTheirPosition(t *testing.T) {
	dir := t.TempDir()
	schema := writeFile(t, "s.yaml", "columns:\n  - { name: ts, type: timestamp }\n")
	path := writeFile(t, "iceberg.yaml", `server: { data_dir: `+dir+`, listen: "127.0.0.1:0" }
stores:
  lake: { type: directory, path: `+dir+`/lake }
  cat: { type: iceberg, catalog: sql, uri: "postgres://127.0.0.1/x", store: lake }
pipelines:
  - name: events
    destinations:
      - name: t
        type: iceberg
        store: cat
        table: ns.t
        format: { type: parquet, schema: `+schema+` }
        partition_by: ["day(ts)", "week(ts)"]
`)
	for _, cmd := range []string{"serve", "validate"} {
		code, _, errOut := runCmd(t, cmd, "--config", path)
		require.Equal(t, 1, code, cmd)
		require.Equal(t, path+":13:35: pipelines[0].destinations[0].partition_by[1]: partition field \"week(ts)\": unknown transform week (want year, month, day, hour, bucket or truncate)\n", errOut, cmd)
	}
}

// validate --check-connections asks each destination and backup store
// (sinks.Checker) and names the one that does not answer.
func TestValidate_CheckConnectionsNamesTheDestinationThatDoesNotAnswer(t *testing.T) {
	dir := t.TempDir()
	closed := closedAddr(t)
	path := writeFile(t, "check.yaml", `server: { data_dir: `+filepath.Join(dir, "data")+` }
stores:
  local: { type: directory, path: `+filepath.Join(dir, "lake")+` }
  gone: { type: s3, endpoint: "http://`+closed+`", access_key_id: a, secret_access_key: b }
pipelines:
  - name: events
    destinations:
      - { name: lake, type: directory, store: local }
      - { name: cloud, type: s3, store: gone, bucket: logs, retry: { duration: 0s } }
      - { name: safe, type: directory, store: local, backup: { store: gone, bucket: spill } }
`)
	code, out, errOut := runCmd(t, "validate", "--config", path)
	require.Equal(t, 0, code, "without the flag nothing is contacted: %s", errOut)
	require.NotContains(t, out, "check ")
	require.NoDirExists(t, filepath.Join(dir, "lake"), "nor is a directory store's root created")

	code, out, _ = runCmd(t, "validate", "--config", path, "--check-connections")
	require.Equal(t, 1, code)
	require.Contains(t, out, "check events/lake: ok\n")
	require.Contains(t, out, "check events/cloud: not ready")
	require.Contains(t, out, "check events/safe: not ready (delivery retries; records wait in the stream): destination safe: backup: ",
		"a backup in another store is asked too")
}

// A schema's own mistakes are reported by validate and by serve, naming the
// pipeline file's field and the schema file's line.
func TestValidateAndServe_ReportABadSchemaAtItsLine(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(schema, []byte("columns:\n  - { name: id, type: int64 }\n  - { name: tags, type: \"list<strin>\" }\n"), 0o644))
	path := filepath.Join(dir, "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`server: { data_dir: `+filepath.Join(dir, "data")+`, listen: "127.0.0.1:0" }
stores:
  local: { type: directory, path: `+filepath.Join(dir, "lake")+` }
pipelines:
  - name: events
    destinations:
      - { name: lake, type: directory, store: local, format: { type: parquet, schema: s.yaml } }
`), 0o644))
	for _, cmd := range []string{"validate", "serve"} {
		code, _, errOut := runCmd(t, cmd, "--config", path)
		require.Equal(t, 1, code, cmd)
		require.Contains(t, errOut, path+":7:87: pipelines[0].destinations[0].format.schema: "+schema+":3:25: columns[1].type: ", cmd)
	}
}

// A mistake in the pipeline's processors does not hide one in a
// destination's: every mistake of the file is reported at once.
func TestValidate_ReportsPipelineAndDestinationProcessorsTogether(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.wasm"), []byte("not a module"), 0o644))
	path := filepath.Join(dir, "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`stores:
  local: { type: directory, path: ./lake }
pipelines:
  - name: events
    processors:
      - { type: wasm, module: bad.wasm }
    destinations:
      - name: lake
        type: directory
        store: local
        processors:
          - { type: wasm, module: bad.wasm }
`), 0o644))
	code, _, errOut := runCmd(t, "validate", "--config", path)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, path+":6:9: pipelines[0].processors[0]: wasm: ")
	require.Contains(t, errOut, path+":12:13: pipelines[0].destinations[0].processors[0]: wasm: ")
}
