package columnar

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/parquet-go/parquet-go"
	scorc "github.com/scritchley/orc"
	"github.com/stretchr/testify/require"
)

// readRows counts a file's rows with an independent reader.
func readRows(t testing.TB, kind string, b []byte) int {
	t.Helper()
	switch kind {
	case Parquet:
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		require.NoError(t, err)
		return int(f.NumRows())
	case ORC:
		r, err := scorc.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		return int(r.NumRows())
	}
	t.Fatalf("kind %s", kind)
	return 0
}

func TestNewEncoder(t *testing.T) {
	s := mustSchema(t, testSchema)
	tests := []struct {
		kind, compression, ext, err string
	}{
		{Parquet, "", ".parquet", ""},
		{Parquet, "gzip", ".parquet", ""},
		{Parquet, "zlib", "", "parquet compression"},
		{ORC, "zlib", ".orc", ""},
		{ORC, "gzip", ".orc", ""},
		{ORC, "lz4", "", "unknown compression"},
		{"avro", "none", "", "unknown format"},
	}
	for _, tc := range tests {
		e, err := NewEncoder(tc.kind, tc.compression, s)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.ext, e.Extension())
	}
	_, err := NewEncoder(Parquet, "", nil)
	require.Error(t, err)
}

// TestWriter_Parquet reads a file back with parquet-go's row reader and
// checks the leaf values of a few columns, including across row groups.
func TestWriter_Parquet(t *testing.T) {
	s := mustSchema(t, `
columns:
  - {name: id, type: int64}
  - {name: tags, type: "list<string>"}
  - {name: name, type: string}
`)
	e, err := NewEncoder(Parquet, "snappy", s, WithBlockBytes(1000))
	require.NoError(t, err)
	var buf bytes.Buffer
	w := e.NewWriter(&buf)
	const n = 500
	for i := range n {
		require.NoError(t, w.Write(fmt.Appendf(nil, `{"id":%d,"tags":["a","b"],"name":"n%d"}`, i, i)))
	}
	require.Error(t, w.Write([]byte(`{"id":"x"}`)))
	require.Equal(t, n, w.Rows())
	require.NoError(t, w.Close())
	require.ErrorIs(t, w.Write([]byte(`{}`)), ErrClosed)
	require.ErrorIs(t, w.Close(), ErrClosed)

	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Greater(t, len(f.RowGroups()), 5)
	var cols []string
	for _, c := range f.Schema().Columns() {
		cols = append(cols, fmt.Sprint(c))
	}
	require.Equal(t, []string{"[id]", "[tags list element]", "[name]"}, cols) // declaration order
	r := parquet.NewReader(bytes.NewReader(buf.Bytes()))
	rows := make([]parquet.Row, n)
	got, err := r.ReadRows(rows)
	require.Equal(t, n, got)
	if err != nil {
		require.ErrorContains(t, err, "EOF")
	}
	for i, row := range rows {
		require.Len(t, row, 4)
		require.Equal(t, int64(i), row[0].Int64())
		require.Equal(t, "a", string(row[1].ByteArray()))
		require.Equal(t, "b", string(row[2].ByteArray()))
		require.Equal(t, fmt.Sprintf("n%d", i), string(row[3].ByteArray()))
	}
}

func TestWriter_ORC(t *testing.T) {
	s := mustSchema(t, "columns: [{name: id, type: int64}, {name: name, type: string}]")
	e, err := NewEncoder(ORC, "zlib", s, WithBlockBytes(1000))
	require.NoError(t, err)
	var buf bytes.Buffer
	w := e.NewWriter(&buf)
	for i := range 300 {
		require.NoError(t, w.Write(fmt.Appendf(nil, `{"id":%d,"name":"n%d"}`, i, i)))
	}
	require.NoError(t, w.Close())
	r, err := scorc.NewReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	c := r.Select("id", "name")
	i, stripes := 0, 0
	for c.Stripes() {
		stripes++
		for c.Next() {
			require.Equal(t, []any{int64(i), fmt.Sprintf("n%d", i)}, c.Row())
			i++
		}
	}
	require.NoError(t, c.Err())
	require.Equal(t, 300, i)
	require.Greater(t, stripes, 5)
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriter_OutputErrorIsFatal(t *testing.T) {
	s := mustSchema(t, "columns: [{name: id, type: int64}]")
	for _, kind := range []string{Parquet, ORC} {
		e, err := NewEncoder(kind, "none", s, WithBlockBytes(1))
		require.NoError(t, err)
		w := e.NewWriter(&failingWriter{n: 2})
		err = w.Write([]byte(`{"id":1}`))
		if err == nil {
			err = w.Close()
		}
		require.ErrorContains(t, err, "disk full", kind)
		var ce *ConversionError
		require.False(t, errors.As(err, &ce))
	}
}
