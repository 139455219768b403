package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/directory"
	"github.com/hydrant-io/hydrant/streams/record"
)

var t0 = time.Date(2024, 1, 31, 23, 55, 9, 123_000_000, time.UTC)

func newWriter(t *testing.T, cfg Config) (*Writer, string) {
	t.Helper()
	root := t.TempDir()
	store, err := directory.New(root)
	require.NoError(t, err)
	if cfg.Pipeline == "" {
		cfg.Pipeline = "clicks"
	}
	cfg.Destination, cfg.Version, cfg.Bucket = "lake", 1, "backup"
	w, err := New(cfg, store)
	require.NoError(t, err)
	return w, filepath.Join(root, "backup")
}

func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func failed(seq uint64, data string) Failed {
	return Failed{
		Record:   record.Record{Shard: "shardId-000000000001", Seq: seq, Arrived: t0, Data: []byte(data)},
		Attempts: 3, Code: "Lambda.FunctionError", Message: "boom <&>", Ended: t0.Add(time.Minute),
	}
}

func TestBackup_WriteFailedLines(t *testing.T) {
	w, root := newWriter(t, Config{ErrorPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"})
	items := []Failed{failed(41, "{\"a\":1}"), failed(42, "\x00\xff")}
	require.NoError(t, w.WriteFailed(t.Context(), record.ProcessingFailed, items))

	fs := files(t, root)
	require.Len(t, fs, 1)
	require.Regexp(t, regexp.MustCompile(`^errors/processing-failed/2024/01/31/clicks-1-2024-01-31-23-55-09-[0-9a-f-]{36}$`), fs[0])

	f, err := os.Open(filepath.Join(root, fs[0]))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.Len(t, lines, 2)
	require.JSONEq(t, `{"attemptsMade":3,"arrivalTimestamp":1706745309123,"errorCode":"Lambda.FunctionError",
		"errorMessage":"boom <&>","attemptEndingTimestamp":1706745369123,"rawData":"eyJhIjoxfQ==",
		"destination":"lake","pipeline":"clicks","shardId":"shardId-000000000001","sequenceNumber":"41"}`, lines[0])
	require.True(t, strings.HasPrefix(lines[0], `{"attemptsMade":3,"arrivalTimestamp":`), "Firehose field order")
	var second struct{ RawData []byte }
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
	require.Equal(t, []byte("\x00\xff"), second.RawData)

	// Retrying the same items overwrites; other items or types do not.
	require.NoError(t, w.WriteFailed(t.Context(), record.ProcessingFailed, items))
	require.Len(t, files(t, root), 1)
	require.NoError(t, w.WriteFailed(t.Context(), record.ProcessingFailed, items[:1]))
	require.NoError(t, w.WriteFailed(t.Context(), record.S3Failed, items))
	require.Len(t, files(t, root), 3)
	require.NoError(t, w.WriteFailed(t.Context(), record.S3Failed, nil))
	require.Len(t, files(t, root), 3)
	require.Error(t, w.WriteFailed(t.Context(), "", items))
}

func TestBackup_DefaultErrorPrefix(t *testing.T) {
	w, root := newWriter(t, Config{})
	require.NoError(t, w.WriteFailed(t.Context(), record.PartitionKeyFailed, []Failed{failed(1, "x")}))
	fs := files(t, root)
	require.Len(t, fs, 1)
	require.True(t, strings.HasPrefix(fs[0], "partition-key-failed/2024/01/31/23/clicks-1-"), fs[0])
}

func TestBackup_WriteSource(t *testing.T) {
	w, root := newWriter(t, Config{SourcePrefix: "source/"})
	b := &record.Batch{Pipeline: "clicks", Destination: "lake", Shard: "shardId-000000000000", First: 5, Last: 7,
		Records: []record.Record{{Data: []byte("a"), Arrived: t0}, {Data: []byte("bc"), Arrived: t0.Add(-2 * time.Hour)}}}
	require.NoError(t, w.WriteSource(t.Context(), b))
	require.NoError(t, w.WriteSource(t.Context(), b))
	require.NoError(t, w.WriteSource(t.Context(), &record.Batch{}))
	fs := files(t, root)
	require.Len(t, fs, 1)
	require.True(t, strings.HasPrefix(fs[0], "source/2024/01/31/21/clicks-1-2024-01-31-21-55-09-"), fs[0])
	got, err := os.ReadFile(filepath.Join(root, fs[0]))
	require.NoError(t, err)
	require.Equal(t, "abc", string(got))
}

type errStore struct{}

func (errStore) Put(context.Context, string, string, io.Reader) error {
	return errors.New("unavailable")
}

func TestBackup_StoreError(t *testing.T) {
	w, err := New(Config{Pipeline: "p"}, errStore{})
	require.NoError(t, err)
	require.ErrorContains(t, w.WriteFailed(t.Context(), record.S3Failed, []Failed{failed(1, "x")}), "unavailable")
}

func TestBackup_ConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no pipeline", Config{}},
		{"no error type", Config{Pipeline: "p", ErrorPrefix: "errors/"}},
		{"partition key in error prefix", Config{Pipeline: "p", ErrorPrefix: "!{firehose:error-output-type}/!{partitionKeyFromQuery:a}"}},
		{"partition key in source prefix", Config{Pipeline: "p", SourcePrefix: "!{partitionKeyFromQuery:a}/"}},
		{"error type in source prefix", Config{Pipeline: "p", SourcePrefix: "!{firehose:error-output-type}/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, errStore{})
			require.Error(t, err)
		})
	}
}

// Sub-records of one source record failed in two writes (one aggregate
// spread over two partitions) are two objects, not one overwriting the
// other; the same write retried is still one object.
func TestBackup_SubRecordsOfOneSourceKeepTheirOwnObjects(t *testing.T) {
	w, root := newWriter(t, Config{})
	sub := func(n uint32) Failed {
		f := failed(7, "part")
		f.Record.Sub = n
		return f
	}
	first := []Failed{sub(0), sub(2)}
	require.NoError(t, w.WriteFailed(t.Context(), record.S3Failed, first))
	require.NoError(t, w.WriteFailed(t.Context(), record.S3Failed, []Failed{sub(1), sub(3)}))
	require.Len(t, files(t, root), 2)
	require.NoError(t, w.WriteFailed(t.Context(), record.S3Failed, first))
	require.Len(t, files(t, root), 2, "a retried write overwrites its own object")
}
