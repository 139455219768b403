package configs

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, src string, env map[string]string) *Config {
	t.Helper()
	c, err := ParseWith("p.yaml", []byte(src), Options{
		Env:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Stat: func(string) error { return nil },
	})
	require.NoError(t, err)
	return c
}

func TestDefaults_Applied(t *testing.T) {
	c := mustParse(t, `
stores:
  s3: { type: s3 }
  pg: { type: postgres, dsn: x }
  os: { type: opensearch, addresses: ["http://o:9200"] }
pipelines:
  - name: p
    processors:
      - { type: wasm, module: m.wasm }
      - { type: lambda, url: "http://l" }
      - { type: exec, command: [x] }
      - { type: decompress }
    destinations:
      - { name: obj, type: s3, store: s3, bucket: b }
      - { name: pq, type: s3, store: s3, bucket: b, format: { type: parquet, schema: s.yaml } }
      - { name: os, type: opensearch, store: os, index: i }
      - { name: pg, type: postgres, store: pg, table: t }
      - { name: rs, type: redshift, store: pg, table: t, staging: { store: s3, bucket: st } }
      - { name: web, type: http, url: "http://h" }
`, nil)
	s := c.Server
	require.Equal(t, DefaultListen, s.Listen)
	require.Equal(t, "./var/hydrant", s.DataDir)
	require.Equal(t, Limits{MaxRequestBytes: 5 * MiB, MaxRecordBytes: 1_024_000, MaxRecordsPerRequest: 500, MaxBacklogBytes: 10 * GiB,
		ReadTimeout: Duration(time.Minute), IdleTimeout: Duration(2 * time.Minute), MaxConnections: 1024, MaxInflightBytes: 256 * MiB}, s.Limits)
	require.False(t, s.Auth.Enabled())
	require.Equal(t, "us-east-1", c.Stores["s3"].Region)

	p := c.Pipelines[0]
	require.Equal(t, Stream{Shards: 2, Retention: Duration(24 * time.Hour)}, p.Stream)
	require.Equal(t, Processor{Type: ProcessorWasm, Module: "m.wasm", Timeout: Duration(5 * time.Second), MemoryLimit: 64 * MiB}, p.Processors[0])
	require.Equal(t, Processor{Type: ProcessorLambda, URL: "http://l", Timeout: Duration(time.Minute), Retries: 3}, p.Processors[1])
	require.Equal(t, Duration(time.Minute), p.Processors[2].Timeout)
	require.Nil(t, p.Processors[2].Env, "an exec child gets PATH and nothing else by default")
	require.Equal(t, Processor{Type: ProcessorDecompress, MaxRecordBytes: 64 * MiB, MaxBatchBytes: 128 * MiB}, p.Processors[3])

	d := p.Destinations
	require.Equal(t, Buffer{Size: 5 * MiB, Interval: Duration(300 * time.Second), MaxBytes: 32 * MiB}, d[0].Buffer)
	require.Equal(t, Format{Type: "json"}, d[0].Format)
	require.Equal(t, "none", d[0].Compression)
	require.Equal(t, Duration(24*time.Hour), d[0].Retry.Duration)
	require.Equal(t, "", d[0].Prefix)
	require.Equal(t, DefaultErrorOutputPrefix, d[0].ErrorOutputPrefix)
	require.Equal(t, Backup{Store: "s3", Bucket: "b", Prefix: "source/", Mode: "failed_only"}, d[0].Backup)

	require.Equal(t, 128*MiB, d[1].Buffer.Size, "format conversion defaults to Firehose's 128 MiB")
	require.Equal(t, 128*MiB, d[1].Buffer.MaxBytes, "the byte cap holds at least one full buffer")
	require.Equal(t, "snappy", d[1].Format.Compression)

	require.Equal(t, "one_day", d[2].Rotation)
	require.Equal(t, Duration(300*time.Second), d[2].Retry.Duration)
	require.Equal(t, DefaultBackupStore, d[2].Backup.Store)
	require.Equal(t, Duration(300*time.Second), d[3].Retry.Duration)
	require.Equal(t, Duration(3600*time.Second), d[4].Retry.Duration)
	require.Equal(t, "none", d[5].ContentEncoding)
	require.Equal(t, Store{Type: StoreDirectory, Path: "./var/hydrant/backup"}, c.Stores[DefaultBackupStore])
}

// Zero is meaningful for intervals and retry windows, so an explicit 0 is
// kept rather than replaced by the default.
func TestDefaults_ExplicitZeroKept(t *testing.T) {
	c := mustParse(t, head+"        buffer: { interval: 0 }\n        retry: { duration: 0s }\n", nil)
	d := c.Pipelines[0].Destinations[0]
	require.Equal(t, Duration(0), d.Buffer.Interval)
	require.Equal(t, 5*MiB, d.Buffer.Size)
	require.Equal(t, Duration(0), d.Retry.Duration)
}

func TestDefaults_BufferMaxBytes(t *testing.T) {
	for _, tt := range []struct {
		name, buffer string
		want         ByteSize
	}{
		{"default", "{ size: 8MiB }", DefaultBufferMaxBytes},
		{"raised to a larger size", "{ size: 64MiB }", 64 * MiB},
		{"explicit", "{ size: 128MiB, max_bytes: 1GiB }", GiB},
		{"explicit, equal to size", "{ size: 8MiB, max_bytes: 8MiB }", 8 * MiB},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, head+"        buffer: "+tt.buffer+"\n", nil)
			require.Equal(t, tt.want, c.Pipelines[0].Destinations[0].Buffer.MaxBytes)
		})
	}
}

func TestParse_OnDemandShards(t *testing.T) {
	c := mustParse(t, "pipelines:\n  - name: p\n    stream: { shards: on-demand }\n    destinations: [{ name: d, type: http, url: \"http://h\" }]\n", nil)
	require.True(t, c.Pipelines[0].Stream.OnDemand)
	require.Equal(t, DefaultShards, c.Pipelines[0].Stream.Shards)
}

func TestParse_AnchorsAliasesAndMergeKeys(t *testing.T) {
	c := mustParse(t, `
x-buffer: &buf { size: 8MiB, interval: 30s }
stores:
  local: { type: directory, path: ./lake }
pipelines:
  - name: p
    destinations:
      - &dest { name: a, type: directory, store: local, buffer: *buf }
      - <<: *dest
        name: b
`[0:0]+`
stores:
  local: &store { type: directory, path: ./lake }
  other: { <<: *store, path: ./other }
pipelines:
  - name: p
    destinations:
      - &dest { name: a, type: directory, store: local, buffer: &buf { size: 8MiB, interval: 30s } }
      - <<: *dest
        name: b
        buffer: *buf
`, nil)
	require.Equal(t, Store{Type: StoreDirectory, Path: "./other"}, c.Stores["other"])
	d := c.Pipelines[0].Destinations
	require.Equal(t, "b", d[1].Name)
	require.Equal(t, "local", d[1].Store)
	require.Equal(t, Buffer{Size: 8 * MiB, Interval: Duration(30 * time.Second), MaxBytes: 32 * MiB}, d[1].Buffer)
}

// The walker only descends where the model does, so nested aliases
// ("billion laughs") cannot make it expand a bomb.
func TestParse_AliasBombDoesNotExpand(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 'b', 'a'; i <= 'k'; i, prev = i+1, i {
		src += string(i) + ": &" + string(i) + " [" + strings.Repeat("*"+string(prev)+", ", 9) + "*" + string(prev) + "]\n"
	}
	src += "pipelines: [{ name: p, processors: *k, destinations: [{ name: d, type: http, url: \"http://h\" }] }]\n"
	_, err := Parse("p.yaml", []byte(src), nil)
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 11+10) // 11 unknown keys; 10 items of *k that are not mappings
}

// Many aliases of one mapping are decoded one by one, within a budget.
func TestParse_NodeBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-p: &p { type: deaggregate }\npipelines: [{ name: p, destinations: [{ name: d, type: http, url: \"http://h\" }], processors: [")
	for range maxNodes / 2 {
		b.WriteString("*p,")
	}
	b.WriteString("*p] }]\n")
	_, err := Parse("p.yaml", []byte(b.String()), nil)
	require.ErrorContains(t, err, "document too large after alias expansion (more than 100000 nodes)")
}

func TestConfig_PosAndErrorf(t *testing.T) {
	c := mustParse(t, head+"        buffer: { size: 8MiB }\n", nil)
	require.Equal(t, Position{Line: 9, Col: 25}, c.Pos("pipelines[0].destinations[0].buffer.size"))
	// A defaulted field points at its nearest ancestor in the file.
	require.Equal(t, Position{Line: 9, Col: 17}, c.Pos("pipelines[0].destinations[0].buffer.interval"))
	require.True(t, c.Has("pipelines[0].destinations[0].buffer.size"))
	require.False(t, c.Has("pipelines[0].destinations[0].buffer.interval"))
	require.EqualError(t, c.Errorf("pipelines[0].destinations[0].type", "sink %q is not built yet", "directory"),
		`p.yaml:7:15: pipelines[0].destinations[0].type: sink "directory" is not built yet`)
}

func TestExecEnvAndDecompressBudgetsParse(t *testing.T) {
	c := mustParse(t, `
pipelines:
  - name: p
    processors:
      - { type: exec, command: [x], env: { TZ: UTC, HOME: "${HOME}" } }
      - { type: decompress, max_record_bytes: 8MiB, max_batch_bytes: 8MiB }
    destinations: [{ name: web, type: http, url: "http://h" }]
`, map[string]string{"HOME": "/home/h"})
	ps := c.Pipelines[0].Processors
	require.Equal(t, map[string]string{"TZ": "UTC", "HOME": "/home/h"}, ps[0].Env)
	require.Equal(t, 8*MiB, ps[1].MaxRecordBytes)
	require.Equal(t, 8*MiB, ps[1].MaxBatchBytes)
}
