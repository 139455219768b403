package object

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/streams/record"
)

func encoder(t *testing.T, kind string) *columnar.Encoder {
	t.Helper()
	s, err := columnar.ParseSchema("s.yaml", []byte("columns: [{name: id, type: int32}, {name: name, type: string}]"))
	require.NoError(t, err)
	e, err := columnar.NewEncoder(kind, "snappy", s)
	require.NoError(t, err)
	return e
}

func parquetRows(t *testing.T, body string) int64 {
	t.Helper()
	f, err := parquet.OpenFile(strings.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	return f.NumRows()
}

// requireConversionFailures checks err names exactly the records idx as
// permanent format-conversion failures.
func requireConversionFailures(t *testing.T, err error, idx ...int) {
	t.Helper()
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Failed, len(idx))
	for _, i := range idx {
		ferr := be.Failed[i]
		require.Error(t, ferr, "record %d", i)
		require.True(t, sinks.IsPermanent(ferr))
		require.Equal(t, record.FormatConversionFailed, record.ErrorType(ferr, ""))
		var ce *columnar.ConversionError
		require.ErrorAs(t, ferr, &ce)
	}
}

func TestFormat_BadRecordsFailAloneTheRestIsDelivered(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "clicks", Version: 1, Format: encoder(t, columnar.Parquet)}, m)
	require.NoError(t, err)
	b := batch(
		record.Record{Data: []byte(`{"id":1,"name":"a"}`), Arrived: t0},
		record.Record{Data: []byte(`{"id":"one"}`), Arrived: t0},
		record.Record{Data: []byte(`{"id":3}` + "\n"), Arrived: t0},
		record.Record{Data: []byte(`not json`), Arrived: t0},
	)
	requireConversionFailures(t, s.Write(t.Context(), b), 1, 3)
	keys := m.keys()
	require.Len(t, keys, 1)
	require.True(t, strings.HasSuffix(keys[0], ".parquet"), keys[0])
	require.EqualValues(t, 2, parquetRows(t, m.objs[keys[0]]))
}

func TestFormat_AllRecordsFailPutsNothing(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "clicks", Version: 1, Format: encoder(t, columnar.ORC)}, m)
	require.NoError(t, err)
	b := batch(
		record.Record{Data: []byte(`[]`), Arrived: t0},
		record.Record{Data: []byte(`{"id":1.5}`), Arrived: t0},
	)
	requireConversionFailures(t, s.Write(t.Context(), b), 0, 1)
	require.Zero(t, m.puts)
}

func TestFormat_PartitionsAreSeparateFiles(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "p", Version: 1, Prefix: "c=!{partitionKeyFromQuery:c}/", Format: encoder(t, columnar.Parquet)}, m)
	require.NoError(t, err)
	meta := func(c string) map[string]string { return map[string]string{record.QueryKey("c"): c} }
	b := batch(
		record.Record{Data: []byte(`{"id":1}`), Meta: meta("a"), Arrived: t0},
		record.Record{Data: []byte(`{"id":"bad"}`), Meta: meta("b"), Arrived: t0},
		record.Record{Data: []byte(`{"id":3}`), Meta: meta("a"), Arrived: t0},
	)
	requireConversionFailures(t, s.Write(t.Context(), b), 1)
	keys := m.keys()
	require.Len(t, keys, 1, "partition b had no good record")
	require.Contains(t, keys[0], "c=a/")
	require.EqualValues(t, 2, parquetRows(t, m.objs[keys[0]]))
}

func TestFormat_ORCObject(t *testing.T) {
	m := &memStore{}
	s, err := New(Config{Pipeline: "p", Version: 1, Format: encoder(t, columnar.ORC)}, m)
	require.NoError(t, err)
	require.NoError(t, s.Write(t.Context(), batch(record.Record{Data: []byte(`{"id":1}`), Arrived: t0})))
	keys := m.keys()
	require.Len(t, keys, 1)
	require.True(t, strings.HasSuffix(keys[0], ".orc"))
	require.True(t, strings.HasPrefix(m.objs[keys[0]], "ORC"))
}

func TestFormat_StoreErrorFailsTheBatch(t *testing.T) {
	boom := errors.New("boom")
	m := &memStore{err: boom}
	s, err := New(Config{Pipeline: "p", Version: 1, Format: encoder(t, columnar.Parquet)}, m)
	require.NoError(t, err)
	err = s.Write(t.Context(), batch(
		record.Record{Data: []byte(`{"id":1}`), Arrived: t0},
		record.Record{Data: []byte(`{"id":"x"}`), Arrived: t0},
	))
	// the whole partition is retried; conversion failures recur then
	require.ErrorIs(t, err, boom)
	var be *sinks.BatchError
	require.False(t, errors.As(err, &be))
}

// abortingStore reads a little of the body and gives up, as a store does
// when its connection drops.
type abortingStore struct{ read int }

func (a *abortingStore) Put(_ context.Context, _, _ string, body io.Reader) error {
	n, _ := io.CopyN(io.Discard, body, 10)
	a.read = int(n)
	return errors.New("connection reset")
}

func TestFormat_StoreStopsReadingDoesNotLeak(t *testing.T) {
	a := &abortingStore{}
	s, err := New(Config{Pipeline: "p", Version: 1, Format: encoder(t, columnar.Parquet)}, a)
	require.NoError(t, err)
	rec := []byte(`{"id":1,"name":"0123456789abcdef0123456789abcdef"}`)
	recs := make([]record.Record, 20000) // more than the pipe's buffer holds
	for i := range recs {
		recs[i] = record.Record{Data: rec, Arrived: t0}
	}
	err = s.Write(t.Context(), batch(recs...))
	require.ErrorContains(t, err, "connection reset")
	require.Equal(t, 10, a.read)
}

func TestFormat_ConfigErrors(t *testing.T) {
	_, err := New(Config{Pipeline: "p", Compression: "gzip", Format: encoder(t, columnar.Parquet)}, &memStore{})
	require.ErrorContains(t, err, "compresses its own pages")
	s, err := New(Config{Pipeline: "p", Compression: "none", Ext: ".pq", Format: encoder(t, columnar.Parquet)}, &memStore{})
	require.NoError(t, err)
	require.Equal(t, ".pq", s.cfg.Ext)
}
