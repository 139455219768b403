package object

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/directory"
	"github.com/hydrant-io/hydrant/sinks/prefix"
	"github.com/hydrant-io/hydrant/streams/record"
)

// memStore is an in-memory sinks.ObjectStore with an injectable error.
type memStore struct {
	mu   sync.Mutex
	objs map[string]string
	puts int
	err  error
}

func (m *memStore) Put(_ context.Context, bucket, key string, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.err != nil {
		return m.err
	}
	if m.objs == nil {
		m.objs = map[string]string{}
	}
	m.objs[bucket+"|"+key] = string(b)
	return nil
}

func (m *memStore) keys() []string {
	var ks []string
	for k := range m.objs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var t0 = time.Date(2024, 1, 31, 23, 55, 9, 0, time.UTC)

func batch(recs ...record.Record) *record.Batch {
	for i := range recs {
		recs[i].Seq = uint64(10 + i)
		recs[i].Shard = "shardId-000000000000"
	}
	return &record.Batch{Pipeline: "clicks", Destination: "lake", Shard: "shardId-000000000000",
		First: 10, Last: uint64(10 + len(recs) - 1), Records: recs}
}

func TestObject_EndToEndDirectory(t *testing.T) {
	root := t.TempDir()
	store, err := directory.New(root)
	require.NoError(t, err)
	s, err := New(Config{Pipeline: "clicks", Version: 1, Prefix: ""}, store)
	require.NoError(t, err)
	b := batch(
		record.Record{Data: []byte("{\"a\":1}\n"), Arrived: t0.Add(time.Minute)},
		record.Record{Data: []byte("{\"a\":2}\n"), Arrived: t0},
	)
	require.NoError(t, s.Write(t.Context(), b))

	var files []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	}))
	require.Len(t, files, 1)
	require.Regexp(t, regexp.MustCompile(
		`^2024/01/31/23/clicks-1-2024-01-31-23-55-09-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$`), files[0])
	got, err := os.ReadFile(filepath.Join(root, files[0]))
	require.NoError(t, err)
	require.Equal(t, "{\"a\":1}\n{\"a\":2}\n", string(got))

	// A retried write of the same range overwrites the same key.
	require.NoError(t, s.Write(t.Context(), b))
	entries, err := os.ReadDir(filepath.Join(root, "2024/01/31/23"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestObject_DynamicPartitioning(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "p", Version: 2, Bucket: "bkt",
		Prefix: "c=!{partitionKeyFromQuery:c}/!{timestamp:yyyy}/!{firehose:random-string}/", Ext: ".json"}, m)
	require.NoError(t, err)
	meta := func(c string) map[string]string { return map[string]string{record.QueryKey("c"): c} }
	b := batch(
		record.Record{Data: []byte("a1 "), Meta: meta("a"), Arrived: t0},
		record.Record{Data: []byte("b1 "), Meta: meta("b/x"), Arrived: t0},
		record.Record{Data: []byte("missing "), Arrived: t0},
		record.Record{Data: []byte("a2 "), Meta: meta("a"), Arrived: t0.Add(-time.Hour * 24 * 365)},
		record.Record{Data: []byte("empty "), Meta: meta(""), Arrived: t0},
	)
	err = s.Write(t.Context(), b)
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Failed, 2)
	for _, i := range []int{2, 4} {
		require.ErrorIs(t, be.Failed[i], ErrPartitionKeyFailed)
		require.True(t, sinks.IsPermanent(be.Failed[i]))
		require.Equal(t, "partition-key-failed", record.ErrorType(be.Failed[i], "s3-failed"))
	}
	require.ErrorIs(t, be.Failed[2], prefix.ErrMissingKey)
	require.ErrorIs(t, be.Failed[4], prefix.ErrInvalidValue)

	keys := m.keys()
	require.Len(t, keys, 2)
	re := regexp.MustCompile(`^bkt\|c=(.*)/(\d{4})/[0-9a-f]{8}-[0-9a-f]{2}/p-2-(\d{4})-.*\.json$`)
	contents := map[string]string{}
	for _, k := range keys {
		sm := re.FindStringSubmatch(k)
		require.NotNil(t, sm, k)
		require.Equal(t, sm[2], sm[3], "prefix and name use the same instant")
		contents[sm[1]+"@"+sm[2]] = m.objs[k]
	}
	require.Equal(t, map[string]string{"a@2023": "a1 a2 ", "b%2Fx@2024": "b1 "}, contents,
		"grouped by partition; time is the group's oldest arrival")

	// Retrying gives identical keys, random string included.
	require.ErrorAs(t, s.Write(t.Context(), b), &be)
	require.Equal(t, keys, m.keys())
}

// failKeyStore fails puts of keys containing a substring.
type failKeyStore struct {
	memStore
	failIn string
}

func (f *failKeyStore) Put(ctx context.Context, bucket, key string, body io.Reader) error {
	if strings.Contains(key, f.failIn) {
		return errors.New("slow down")
	}
	return f.memStore.Put(ctx, bucket, key, body)
}

func TestObject_StoreErrorFailsOnlyThatPartition(t *testing.T) {
	m := &failKeyStore{failIn: "c=b/"}
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "c=!{partitionKeyFromQuery:c}/"}, m)
	require.NoError(t, err)
	meta := func(c string) map[string]string { return map[string]string{record.QueryKey("c"): c} }
	err = s.Write(t.Context(), batch(
		record.Record{Data: []byte("a"), Meta: meta("a"), Arrived: t0},
		record.Record{Data: []byte("b"), Meta: meta("b"), Arrived: t0},
		record.Record{Data: []byte("a"), Meta: meta("a"), Arrived: t0},
	))
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Failed, 1, "only partition b failed")
	require.ErrorContains(t, be.Failed[1], "slow down")
	require.False(t, sinks.IsPermanent(be.Failed[1]), "a store error is retried")
	require.Len(t, m.keys(), 1, "partition a was written")
}

func TestObject_KeysFollowTheBatchIdentity(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "x/"}, m)
	require.NoError(t, err)
	b1 := batch(record.Record{Data: []byte("one"), Arrived: t0})
	require.NoError(t, s.Write(t.Context(), b1))
	require.NoError(t, s.Write(t.Context(), b1))
	require.Len(t, m.keys(), 1, "a retried batch overwrites its object")
	// One source record expanded past a buffer: two batches of one
	// sequence range, told apart by their sub-record ranges.
	b1.FirstSub, b1.LastSub = 0, 4
	b2 := batch(record.Record{Data: []byte("two"), Arrived: t0})
	b2.FirstSub, b2.LastSub = 5, 9
	require.Equal(t, b1.First, b2.First)
	require.NoError(t, s.Write(t.Context(), b1))
	require.NoError(t, s.Write(t.Context(), b2))
	require.Len(t, m.keys(), 3, "same range, other sub-records: another object")
}

func TestObject_StoreErrorFailsBatch(t *testing.T) {
	m := &memStore{err: errors.New("disk full")}
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "x/"}, m)
	require.NoError(t, err)
	err = s.Write(t.Context(), batch(record.Record{Data: []byte("x"), Arrived: t0}))
	require.ErrorContains(t, err, "disk full")
	var be *sinks.BatchError
	require.False(t, errors.As(err, &be))
}

func TestObject_EmptyBatchAndNoArrival(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "x/", Now: func() time.Time { return t0 }}, m)
	require.NoError(t, err)
	require.NoError(t, s.Write(t.Context(), &record.Batch{}))
	require.Zero(t, m.puts)
	require.NoError(t, s.Write(t.Context(), batch(record.Record{Data: []byte("x")})))
	require.Len(t, m.keys(), 1)
	require.True(t, strings.HasPrefix(m.keys()[0], "|x/2024/01/31/23/p-1-2024-01-31-23-55-09-"))
	require.NoError(t, s.Close(t.Context()))
}

func TestObject_ConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no pipeline", Config{}},
		{"compression", Config{Pipeline: "p", Compression: "lz4"}},
		{"ext no dot", Config{Pipeline: "p", Ext: "gz"}},
		{"ext upper", Config{Pipeline: "p", Ext: ".GZ"}},
		{"bad prefix", Config{Pipeline: "p", Prefix: "!{nope:x}"}},
		{"error type in prefix", Config{Pipeline: "p", Prefix: "!{firehose:error-output-type}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, &memStore{})
			require.Error(t, err)
		})
	}
}

func TestObject_GzipObjectsGetExtensionAndDecompress(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "x/", Compression: "gzip"}, m)
	require.NoError(t, err)
	require.NoError(t, s.Write(t.Context(), batch(
		record.Record{Data: []byte("{\"a\":1}\n"), Arrived: t0},
		record.Record{Data: []byte("{\"a\":2}\n"), Arrived: t0},
	)))
	keys := m.keys()
	require.Len(t, keys, 1)
	require.True(t, strings.HasSuffix(keys[0], ".gz"), keys[0])
	zr, err := gzip.NewReader(strings.NewReader(m.objs[keys[0]]))
	require.NoError(t, err)
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, "{\"a\":1}\n{\"a\":2}\n", string(got))
}

func TestObject_ConcatReader(t *testing.T) {
	recs := []record.Record{{Data: []byte("abc")}, {Data: nil}, {Data: []byte("defgh")}, {Data: []byte("i")}}
	for _, size := range []int{1, 2, 3, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			r := &concatReader{recs: recs, idx: []int{0, 1, 2, 3}}
			var out bytes.Buffer
			buf := make([]byte, size)
			for {
				n, err := r.Read(buf)
				out.Write(buf[:n])
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
			}
			require.Equal(t, "abcdefghi", out.String())
		})
	}
	var out bytes.Buffer
	n, err := (&concatReader{recs: recs, idx: []int{2, 0}}).WriteTo(&out)
	require.NoError(t, err)
	require.EqualValues(t, 8, n)
	require.Equal(t, "defghabc", out.String())
}

func BenchmarkObject_WriteDirectory(b *testing.B) {
	store, err := directory.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Pipeline: "bench", Version: 1, Prefix: "data/"}, store)
	if err != nil {
		b.Fatal(err)
	}
	const n, size = 5000, 1000
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Data: bytes.Repeat([]byte{'x'}, size), Arrived: t0}
	}
	b.SetBytes(n * size)
	var first uint64
	for b.Loop() {
		bt := &record.Batch{Pipeline: "bench", Destination: "d", Shard: "shardId-000000000000",
			First: first, Last: first + n - 1, Records: recs}
		first += n
		if err := s.Write(b.Context(), bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

// A partition whose key the store can never accept (a 300-byte segment on a
// directory store) fails its records permanently, at once, while the other
// partitions are delivered.
func TestObject_UnstorableKeyFailsOnlyThatPartitionPermanently(t *testing.T) {
	root := t.TempDir()
	store, err := directory.New(root)
	require.NoError(t, err)
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "c=!{partitionKeyFromQuery:c}/"}, store)
	require.NoError(t, err)
	long := strings.Repeat("v", 300)
	meta := func(c string) map[string]string { return map[string]string{record.QueryKey("c"): c} }
	err = s.Write(t.Context(), batch(
		record.Record{Data: []byte("a1 "), Meta: meta("a"), Arrived: t0},
		record.Record{Data: []byte("long1 "), Meta: meta(long), Arrived: t0},
		record.Record{Data: []byte("a2 "), Meta: meta("a"), Arrived: t0},
		record.Record{Data: []byte("long2 "), Meta: meta(long), Arrived: t0},
	))
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Failed, 2)
	for _, i := range []int{1, 3} {
		require.ErrorIs(t, be.Failed[i], directory.ErrInvalidKey)
		require.True(t, sinks.IsPermanent(be.Failed[i]), "%v", be.Failed[i])
	}
	var got []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, rerr := os.ReadFile(path)
			got = append(got, string(b))
			return rerr
		}
		return err
	}))
	require.Equal(t, []string{"a1 a2 "}, got)
}

// With one partition only, the whole batch fails, permanently.
func TestObject_UnstorableKeyOnlyPartitionIsPermanent(t *testing.T) {
	store, err := directory.New(t.TempDir())
	require.NoError(t, err)
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "c=!{partitionKeyFromQuery:c}/"}, store)
	require.NoError(t, err)
	meta := map[string]string{record.QueryKey("c"): strings.Repeat("v", 300)}
	err = s.Write(t.Context(), batch(record.Record{Data: []byte("x"), Meta: meta, Arrived: t0}))
	require.ErrorIs(t, err, directory.ErrInvalidKey)
	require.True(t, sinks.IsPermanent(err), "%v", err)
}
