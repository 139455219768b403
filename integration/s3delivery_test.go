//go:build integration

package integration

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/s3/s3test"
)

// s3Config writes a pipeline file whose destinations go to MinIO; body is
// the pipelines: section.
func s3Config(t *testing.T, dir, addr, pipelines string) string {
	t.Helper()
	env := s3test.LoadEnv()
	cfg := fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  lake: { type: s3, endpoint: %q, access_key_id: %q, secret_access_key: %q, path_style: true }
pipelines:
%s`, addr, filepath.Join(dir, "data"), env.Endpoint, env.AccessKey, env.SecretKey, pipelines)
	path := filepath.Join(dir, "hydrant.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path
}

// sendLines puts lines through the plain door in batches of 500 and fails
// the test unless every batch is acknowledged.
func sendLines(t *testing.T, addr, stream string, lines []string) {
	t.Helper()
	for len(lines) > 0 {
		n := min(500, len(lines))
		resp, body, err := putNDJSON(t.Context(), addr, stream, lines[:n])
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		lines = lines[n:]
	}
}

// linesOf splits NDJSON into its lines.
func linesOf(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestS3Delivery_DynamicPartitioningByQueryKey(t *testing.T) {
	bucket := mustBucket(t, t.Name())
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := s3Config(t, dir, addr, fmt.Sprintf(`  - name: clicks
    processors:
      - { type: jq_metadata, partition_keys: { customer: .customer } }
      - { type: append_delimiter }
    destinations:
      - name: lake
        type: s3
        store: lake
        bucket: %s
        prefix: "customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/"
        compression: gzip
        buffer: { size: 1MiB, interval: 1s }
`, bucket))
	srv := startServer(t, cfg, addr)

	const customers, records = 60, 6000
	want := map[string][]string{} // customer → lines
	var lines []string
	for i := range records {
		c := fmt.Sprintf("c%02d", i%customers)
		l := fmt.Sprintf(`{"customer":%q,"n":%d}`, c, i)
		want[c] = append(want[c], l)
		lines = append(lines, l)
	}
	sendLines(t, addr, "clicks", lines[:records/2])
	// The other half through the Firehose door.
	fh := firehoseClient(addr)
	for rest := lines[records/2:]; len(rest) > 0; {
		n := min(500, len(rest))
		recs := make([]types.Record, n)
		for i, l := range rest[:n] {
			recs[i] = types.Record{Data: []byte(l)}
		}
		out, err := fh.PutRecordBatch(t.Context(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("clicks"), Records: recs})
		require.NoError(t, err)
		require.Zero(t, aws.ToInt32(out.FailedPutCount))
		rest = rest[n:]
	}

	keyRe := regexp.MustCompile(`^customer=(c\d\d)/(\d{4})/clicks-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}\.gz$`)
	got := map[string][]string{}
	waitFor(t, 2*time.Minute, "every record in MinIO", func() bool {
		got = map[string][]string{}
		n := 0
		for key, body := range listObjects(t, bucket, "") {
			m := keyRe.FindStringSubmatch(key)
			require.NotNil(t, m, "unexpected key %q", key)
			zr, err := gzip.NewReader(bytes.NewReader(body))
			require.NoError(t, err, key)
			plain, err := io.ReadAll(zr)
			require.NoError(t, err, key)
			for _, l := range linesOf(plain) {
				var v struct{ Customer string }
				require.NoError(t, json.Unmarshal([]byte(l), &v))
				require.Equal(t, m[1], v.Customer, "record %s under the wrong partition %s", l, key)
				got[v.Customer] = append(got[v.Customer], l)
				n++
			}
		}
		return n >= records
	})
	require.NoError(t, srv.stop())
	require.Len(t, got, customers)
	for c, ls := range want {
		sort.Strings(ls)
		g := got[c]
		sort.Strings(g)
		require.Equal(t, ls, g, "customer %s: every record exactly once", c)
	}
}

// decompressors read an object back with a tool that shares no code with
// Hydrant's writers: CLIs from Debian, @chainsafe/snappy-stream (node) for
// framed snappy and ClickHouse (chdb) for Hadoop-snappy.
var decompressors = map[string]func(t *testing.T, body []byte) []byte{
	"none": func(_ *testing.T, b []byte) []byte { return b },
	"gzip": func(t *testing.T, b []byte) []byte { return runTool(t, b, "gzip", "-dc") },
	"zstd": func(t *testing.T, b []byte) []byte { return runTool(t, b, "zstd", "-dcq") },
	"zip": func(t *testing.T, b []byte) []byte {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		require.NoError(t, err)
		require.Len(t, zr.File, 1)
		require.Greater(t, zr.File[0].Modified.Year(), 2000, "zip entries carry the object's time")
		f := filepath.Join(t.TempDir(), "o.zip")
		require.NoError(t, os.WriteFile(f, b, 0o644))
		out, err := exec.Command("unzip", "-p", f).Output()
		require.NoError(t, err, "unzip (Debian package unzip)")
		return out
	},
	"snappy": func(t *testing.T, b []byte) []byte {
		cmd := exec.CommandContext(t.Context(), "node", "unsnappy.js")
		cmd.Dir = readersDir(t)
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		require.NoError(t, err, "@chainsafe/snappy-stream")
		return out
	},
	"hadoop_snappy": func(t *testing.T, b []byte) []byte {
		// ClickHouse's "snappy" compression is Hadoop's framing.
		readers := readersDir(t)
		f, err := os.CreateTemp(readers, "run-*.hsnappy")
		require.NoError(t, err)
		t.Cleanup(func() { os.Remove(f.Name()) })
		_, err = f.Write(b)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		rows := query(t, readers, "chdb", fmt.Sprintf(
			`SELECT line FROM file('%s', 'LineAsString', 'line String', 'snappy')`, filepath.Base(f.Name())))
		var out []byte
		for _, r := range rows {
			out = append(out, r["line"].(string)+"\n"...)
		}
		return out
	},
}

func runTool(t *testing.T, in []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err, "%s (Debian package %s)", name, name)
	return out
}

func TestS3Delivery_EveryCompressionReadsBackWithIndependentTools(t *testing.T) {
	bucket := mustBucket(t, t.Name())
	dir, addr := t.TempDir(), freeAddr(t)
	exts := map[string]string{"none": "", "gzip": ".gz", "zip": ".zip", "snappy": ".snappy", "hadoop_snappy": ".hsnappy", "zstd": ".zst"}
	var pipelines strings.Builder
	for c := range exts {
		fmt.Fprintf(&pipelines, `  - name: p-%s
    processors: [{ type: append_delimiter }]
    destinations:
      - { name: lake, type: s3, store: lake, bucket: %s, prefix: "%s/", compression: %s, buffer: { size: 1MiB, interval: 1s } }
`, strings.ReplaceAll(c, "_", "-"), bucket, c, c)
	}
	srv := startServer(t, s3Config(t, dir, addr, pipelines.String()), addr)
	var lines []string
	for i := range 3000 {
		lines = append(lines, fmt.Sprintf(`{"n":%d,"text":"%s"}`, i, strings.Repeat("abc", i%50)))
	}
	for c := range exts {
		sendLines(t, addr, "p-"+strings.ReplaceAll(c, "_", "-"), lines)
	}
	for c, ext := range exts {
		t.Run(c, func(t *testing.T) {
			var got []string
			waitFor(t, time.Minute, c+" objects", func() bool {
				got = nil
				for key, body := range listObjects(t, bucket, c+"/") {
					require.Regexp(t, `-[0-9a-f-]{36}`+regexp.QuoteMeta(ext)+`$`, key, "Firehose's extension for %s", c)
					got = append(got, linesOf(decompressors[c](t, body))...)
				}
				return len(got) >= len(lines)
			})
			sort.Strings(got)
			want := append([]string(nil), lines...)
			sort.Strings(want)
			require.Equal(t, want, got)
		})
	}
	require.NoError(t, srv.stop())
}

func TestS3Delivery_MinIOOutageLosesNothing(t *testing.T) {
	bucket := mustBucket(t, t.Name())
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := s3Config(t, dir, addr, fmt.Sprintf(`  - name: events
    processors: [{ type: append_delimiter }]
    destinations:
      - { name: lake, type: s3, store: lake, bucket: %s, buffer: { size: 1MiB, interval: 1s } }
`, bucket))
	srv := startServer(t, cfg, addr)
	t.Cleanup(func() { services(t, "minio-start") }) // whatever happens, MinIO comes back

	var mu sync.Mutex
	var sent []string
	send := func(from, n int) {
		var lines []string
		for i := from; i < from+n; i++ {
			lines = append(lines, fmt.Sprintf(`{"n":%d}`, i))
		}
		sendLines(t, addr, "events", lines)
		mu.Lock()
		sent = append(sent, lines...)
		mu.Unlock()
	}
	send(0, 2000)
	services(t, "minio-stop")
	send(2000, 2000) // ingest does not depend on the destination
	time.Sleep(3 * time.Second)
	services(t, "minio-start")
	send(4000, 2000)

	got := map[string]int{}
	waitFor(t, 3*time.Minute, "every record delivered after the outage", func() bool {
		got = map[string]int{}
		for _, body := range listObjects(t, bucket, "") {
			for _, l := range linesOf(body) {
				got[l]++
			}
		}
		return len(got) >= len(sent)
	})
	require.NoError(t, srv.stop())
	for _, l := range sent {
		require.Positive(t, got[l], "record %s lost", l)
	}
	backups := listObjects(t, bucket, "s3-failed/")
	require.Empty(t, backups, "a 24 h retry window outlives a short outage")
}

// backupLine is one line of a backup object (spec/delivery.md).
type backupLine struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                string `json:"rawData"`
	Destination            string `json:"destination"`
	Pipeline               string `json:"pipeline"`
	ShardID                string `json:"shardId"`
	SequenceNumber         string `json:"sequenceNumber"`
}

// checkBackups waits for the backup lines under prefix in bucket and
// checks that they hold exactly want (raw data, any order) with code.
func checkBackups(t *testing.T, bucket, prefix, code string, want []string) {
	t.Helper()
	var got []string
	var lines []backupLine
	waitFor(t, time.Minute, prefix+" backups", func() bool {
		got, lines = nil, nil
		for key, body := range listObjects(t, bucket, prefix) {
			require.Regexp(t, `^`+prefix+`\d{4}/\d\d/\d\d/\d\d/`, key)
			for _, l := range linesOf(body) {
				var bl backupLine
				require.NoError(t, json.Unmarshal([]byte(l), &bl), l)
				raw, err := base64.StdEncoding.DecodeString(bl.RawData)
				require.NoError(t, err)
				got = append(got, string(raw))
				lines = append(lines, bl)
			}
		}
		return len(got) >= len(want)
	})
	sort.Strings(got)
	want = slices.Sorted(slices.Values(want))
	require.Equal(t, want, got, "raw data of the failed records")
	for _, bl := range lines {
		require.Equal(t, code, bl.ErrorCode, bl.ErrorMessage)
		require.NotEmpty(t, bl.ErrorMessage)
		require.Equal(t, "lake", bl.Destination)
		require.NotEmpty(t, bl.ShardID)
		require.Positive(t, bl.ArrivalTimestamp)
	}
}

func TestS3Delivery_FailuresLandInTheBackupBucket(t *testing.T) {
	backup := mustBucket(t, t.Name()+"-backup")
	lake := mustBucket(t, t.Name())
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := s3Config(t, dir, addr, fmt.Sprintf(`  - name: missing
    destinations:
      - name: lake
        type: s3
        store: lake
        bucket: no-such-bucket-%d
        retry: { duration: 2s }
        buffer: { size: 1MiB, interval: 0s }
        backup: { store: lake, bucket: %s }
  - name: keyed
    processors:
      - { type: jq_metadata, partition_keys: { customer: .customer } }
    destinations:
      - name: lake
        type: s3
        store: lake
        bucket: %s
        prefix: "customer=!{partitionKeyFromQuery:customer}/"
        buffer: { size: 1MiB, interval: 0s }
        backup: { store: lake, bucket: %s }
`, time.Now().UnixNano(), backup, lake, backup))
	srv := startServer(t, cfg, addr)
	sendLines(t, addr, "missing", []string{`{"a":1}`, `{"a":2}`})
	sendLines(t, addr, "keyed", []string{`{"customer":"x"}`, `{"nobody":1}`})
	// Firehose data is opaque bytes: the door takes what the batch door would refuse.
	_, err := firehoseClient(addr).PutRecord(t.Context(), &firehose.PutRecordInput{
		DeliveryStreamName: aws.String("keyed"), Record: &types.Record{Data: []byte("not json at all")}})
	require.NoError(t, err)

	checkBackups(t, backup, "s3-failed/", "S3.Failed", []string{`{"a":1}`, `{"a":2}`})
	checkBackups(t, backup, "partition-key-failed/", "Partition.Key.Failed", []string{`not json at all`, `{"nobody":1}`})
	require.Len(t, listObjects(t, lake, "customer=x/"), 1, "the good record was delivered")
	require.NoError(t, srv.stop())
}
