package object

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/sinks/directory"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// The object sink on the directory store, as the directory destination
// builds it, in three configurations: concatenated gzip objects under the
// default time prefix; dynamic partitioning (partition-key-failed
// records); Parquet (format-conversion-failed records).

func TestSinktest_DirectoryGzip(t *testing.T) {
	sinktest.Run(t, directoryHarness(Config{Compression: "gzip"}))
}

func TestSinktest_DirectoryDynamicPartitioning(t *testing.T) {
	h := directoryHarness(Config{Prefix: "part=!{partitionKeyFromQuery:p}/!{timestamp:yyyy/MM/dd}/"})
	h.Record = func(r *record.Record, p int) {
		r.Meta = map[string]string{record.QueryKey("p"): fmt.Sprintf("p%d", p)}
	}
	h.Partitions = 3
	h.Bad = func(r *record.Record) { r.Meta = nil } // the key the prefix needs is missing
	h.BadType = record.PartitionKeyFailed
	sinktest.Run(t, h)
}

// payloadSchema holds sinktest.Payload's fields.
const payloadSchema = `
columns:
  - {name: id, type: string}
  - {name: shard, type: string}
  - {name: seq, type: int64}
  - {name: sub, type: int64}
  - {name: body, type: string}
`

func TestSinktest_DirectoryParquet(t *testing.T) {
	schema, err := columnar.ParseSchema("payload.yaml", []byte(payloadSchema))
	require.NoError(t, err)
	enc, err := columnar.NewEncoder(columnar.Parquet, "snappy", schema)
	require.NoError(t, err)
	h := directoryHarness(Config{Format: enc})
	h.Bad = func(r *record.Record) {
		r.Data = fmt.Appendf(nil, `{"id":%q,"seq":"not a number"}`, r.ID)
	}
	h.BadType = record.FormatConversionFailed
	sinktest.Run(t, h)
}

// directoryHarness runs the object sink configured by cfg (Pipeline and
// Version filled in) on a directory store in a fresh temporary root.
func directoryHarness(cfg Config) sinktest.Harness {
	cfg.Pipeline, cfg.Version = sinktest.Pipeline, 1
	return sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			root := filepath.Join(t.TempDir(), "root")
			store, err := directory.New(root)
			require.NoError(t, err)
			s, err := New(cfg, store)
			require.NoError(t, err)
			return &sinktest.Target{
				Sink:  s,
				Read:  func(t *testing.T) []sinktest.Delivered { return readDirectory(t, root) },
				Break: func(t *testing.T) func() { return breakDirectory(t, root) },
			}
		},
		// A bucket name the store can never use: no retry helps.
		Misconfigured: func(t *testing.T) sinks.Sink {
			store, err := directory.New(t.TempDir())
			require.NoError(t, err)
			bad := cfg
			bad.Bucket = "no/such"
			s, err := New(bad, store)
			require.NoError(t, err)
			return s
		},
	}
}

// breakDirectory moves the root away and puts a file in its place (an
// unmounted or replaced disk), until restored. It works as root too,
// unlike a read-only mode.
func breakDirectory(t *testing.T, root string) (restore func()) {
	t.Helper()
	away := root + ".away"
	require.NoError(t, os.Rename(root, away))
	require.NoError(t, os.WriteFile(root, []byte("not a directory"), 0o644))
	return func() {
		require.NoError(t, os.Remove(root))
		require.NoError(t, os.Rename(away, root))
	}
}

// readDirectory reads every object under root back into records, as a
// consumer of the destination would: gzip objects decompressed, Parquet
// files row by row; a temporary file left behind is an error.
func readDirectory(t *testing.T, root string) []sinktest.Delivered {
	t.Helper()
	var out []sinktest.Delivered
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(d.Name(), directory.TempPrefix) {
			return fmt.Errorf("temporary file left behind: %s", rel)
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		recs, err := decodeObject(filepath.ToSlash(rel), body)
		out = append(out, recs...)
		return err
	})
	require.NoError(t, err)
	return out
}

// decodeObject splits an object into its records by its extension.
func decodeObject(key string, body []byte) ([]sinktest.Delivered, error) {
	switch {
	case strings.HasSuffix(key, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	case strings.HasSuffix(key, ".parquet"):
		return parquetRecords(key, body)
	}
	return sinktest.Lines(body, key), nil
}

// parquetRecords reads a Parquet file of payloadSchema back into JSON
// records.
func parquetRecords(key string, body []byte) ([]sinktest.Delivered, error) {
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var names []string
	for _, c := range f.Schema().Columns() {
		names = append(names, c[0])
	}
	r := parquet.NewReader(bytes.NewReader(body))
	defer r.Close()
	var out []sinktest.Delivered
	rows := make([]parquet.Row, 64)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			doc := map[string]any{}
			for _, v := range row {
				name := names[v.Column()]
				switch {
				case v.IsNull():
					doc[name] = nil
				case v.Kind() == parquet.Int64:
					doc[name] = v.Int64()
				default:
					doc[name] = string(v.ByteArray())
				}
			}
			data, _ := json.Marshal(doc)
			out = append(out, sinktest.Delivered{Data: data, Where: key})
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", key, err)
		}
	}
}

// checkStore is a store with only the sinks.Checker capability.
type checkStore struct {
	memStore
	err error
}

func (c *checkStore) Check(context.Context) error { return c.err }

func TestObject_Check(t *testing.T) {
	// A bucket checker is asked about the configured bucket.
	root := filepath.Join(t.TempDir(), "root")
	store, err := directory.New(root)
	require.NoError(t, err)
	s, err := New(Config{Pipeline: "p", Bucket: "lake"}, store)
	require.NoError(t, err)
	require.NoError(t, s.Check(t.Context()))
	restore := breakDirectory(t, root)
	err = s.Check(t.Context())
	require.ErrorContains(t, err, "not a directory")
	require.False(t, sinks.IsPermanent(err))
	restore()
	require.NoError(t, s.Check(t.Context()))

	bad, err := New(Config{Pipeline: "p", Bucket: "a/b"}, store)
	require.NoError(t, err)
	err = bad.Check(t.Context())
	require.ErrorIs(t, err, directory.ErrInvalidKey)
	require.True(t, sinks.IsPermanent(err))

	// A store that only checks itself.
	cs := &checkStore{err: errors.New("down")}
	s, err = New(Config{Pipeline: "p"}, cs)
	require.NoError(t, err)
	require.ErrorContains(t, s.Check(t.Context()), "down")
	cs.err = nil
	require.NoError(t, s.Check(t.Context()))

	// A store without either has nothing to check.
	s, err = New(Config{Pipeline: "p"}, &memStore{})
	require.NoError(t, err)
	require.NoError(t, s.Check(t.Context()))
}
