package orc

import (
	"bytes"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	scorc "github.com/scritchley/orc"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// decodeChunks undoes the chunk framing of one stream, checking the
// header of every chunk.
func decodeChunks(t testing.TB, kind Compression, blockSize int, b []byte) []byte {
	if kind == None {
		return b
	}
	var out []byte
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 3)
		h := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
		n, original := h>>1, h&1 == 1
		require.LessOrEqual(t, 3+n, len(b))
		chunk := b[3 : 3+n]
		b = b[3+n:]
		if original {
			require.LessOrEqual(t, n, blockSize)
			out = append(out, chunk...)
			continue
		}
		var raw []byte
		var err error
		switch kind {
		case Snappy:
			raw, err = snappy.Decode(nil, chunk)
		case Zlib:
			raw, err = io.ReadAll(flate.NewReader(bytes.NewReader(chunk)))
		case Zstd:
			var d *zstd.Decoder
			d, err = zstd.NewReader(nil)
			require.NoError(t, err)
			raw, err = d.DecodeAll(chunk, nil)
			d.Close()
		}
		require.NoError(t, err)
		require.LessOrEqual(t, len(raw), blockSize)
		out = append(out, raw...)
	}
	return out
}

func TestChunker_RoundTrip(t *testing.T) {
	compressible := bytes.Repeat([]byte("hydrant firehose "), 40000) // several chunks
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31)
	}
	for _, kind := range []Compression{None, Zlib, Snappy, Zstd} {
		for name, src := range map[string][]byte{"compressible": compressible, "incompressible": random, "empty": nil} {
			t.Run(kind.String()+"/"+name, func(t *testing.T) {
				c, err := newChunker(kind, 64<<10)
				require.NoError(t, err)
				defer c.close()
				framed, err := c.appendStream([]byte("prefix"), src)
				require.NoError(t, err)
				require.Equal(t, "prefix", string(framed[:6]))
				require.Equal(t, src, nilIfEmpty(decodeChunks(t, kind, 64<<10, framed[6:])))
				if kind != None && name == "compressible" {
					require.Less(t, len(framed), len(src)/4)
				}
			})
		}
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestAppendHeader(t *testing.T) {
	// The specification's example: 100,000 compressed bytes -> 0x40 0x0d 0x03;
	// 5 original bytes -> 0x0b 0x00 0x00.
	require.Equal(t, []byte{0x40, 0x0d, 0x03}, appendHeader(nil, 100000, false))
	require.Equal(t, []byte{0x0b, 0x00, 0x00}, appendHeader(nil, 5, true))
}

func allTypes() *Type {
	return &Type{Kind: Struct, FieldNames: []string{"b", "i", "l", "f", "d", "s", "bin", "ts", "dt", "dec", "tags", "m", "st"},
		Children: []*Type{
			{Kind: Boolean}, {Kind: Int}, {Kind: Long}, {Kind: Float}, {Kind: Double}, {Kind: String}, {Kind: Binary},
			{Kind: Timestamp}, {Kind: Date}, {Kind: Decimal, Precision: 10, Scale: 2},
			{Kind: List, Children: []*Type{{Kind: String}}},
			{Kind: Map, Children: []*Type{{Kind: String}, {Kind: Long}}},
			{Kind: Struct, FieldNames: []string{"a"}, Children: []*Type{{Kind: Int}}},
		}}
}

func row(i int) []any {
	if i%5 == 4 {
		// all null but the date: that reader's DATE ignores PRESENT (and
		// then misreads the following rows); integration/format_test.go
		// checks null dates with ClickHouse
		r := make([]any, 13)
		r[8] = int32(19000 + i)
		return r
	}
	return []any{
		i%2 == 0, int32(i), int64(i) * 1e10, float32(i) + 0.5, float64(i) / 4, "s" + string(rune('a'+i%26)), []byte{byte(i), 1},
		int64(1_700_000_000_123_456 + i), int32(19000 + i), big.NewInt(int64(i*100 + 1)),
		[]any{"x", nil}, []KeyValue{{Key: "k", Value: int64(i)}}, []any{int32(-i)},
	}
}

// TestWriter_ReadBack reads files back with github.com/scritchley/orc,
// an independent reader (it has no ZSTD; TestWriter_Zstd covers that).
func TestWriter_ReadBack(t *testing.T) {
	for _, kind := range []Compression{None, Zlib, Snappy} {
		t.Run(kind.String(), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, allTypes(), Options{Compression: kind, BlockSize: 1024})
			require.NoError(t, err)
			const n = 3000
			for i := range n {
				require.NoError(t, w.Write(row(i)))
				if i == 1000 || i == 2000 {
					require.NoError(t, w.Flush()) // three stripes
				}
			}
			require.NoError(t, w.Close())
			require.ErrorIs(t, w.Write(row(0)), ErrClosed)

			r, err := scorc.NewReader(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			c := r.Select("b", "i", "l", "f", "d", "s", "bin", "ts", "dt", "dec", "tags", "m", "st")
			i := 0
			for c.Stripes() {
				for c.Next() {
					got := c.Row()
					want := row(i)
					if i%5 == 4 {
						for j, v := range got {
							if j == 8 {
								require.Equal(t, time.Unix(int64(19000+i)*86400, 0).UTC(), v.(scorc.Date).Time.UTC())
								continue
							}
							require.Nil(t, v, "row %d col %d", i, j)
						}
						i++
						continue
					}
					// the reader's Go types: int64 for every integer, its own Float and Double
					require.Equal(t, []any{want[0], int64(want[1].(int32)), want[2], scorc.Float(want[3].(float32)),
						scorc.Double(want[4].(float64)), want[5], want[6]}, got[0:7], "row %d", i)
					require.Equal(t, time.UnixMicro(want[7].(int64)).UTC(), got[7].(time.Time).UTC(), "row %d", i)
					require.Equal(t, time.Unix(int64(want[8].(int32))*86400, 0).UTC(), got[8].(scorc.Date).Time.UTC(), "row %d", i)
					require.Equal(t, want[9].(*big.Int).Int64(), got[9].(scorc.Decimal).Int.Int64(), "row %d", i)
					require.Equal(t, []any{"x", nil}, got[10], "row %d", i)
					require.Equal(t, []scorc.MapEntry{{Key: "k", Value: int64(i)}}, got[11], "row %d", i)
					require.Equal(t, scorc.Struct{"a": int64(-i)}, got[12], "row %d", i)
					i++
				}
			}
			require.NoError(t, c.Err())
			require.Equal(t, n, i)
			require.Equal(t, uint64(n), w.Rows())
		})
	}
}

// TestWriter_Zstd checks a ZSTD file's tail by hand: postscript, footer
// (inside zstd chunks) and its row count.
func TestWriter_Zstd(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, allTypes(), Options{Compression: Zstd})
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, w.Write(row(i)))
	}
	require.NoError(t, w.Close())
	b := buf.Bytes()
	require.Equal(t, "ORC", string(b[:3]))
	psLen := int(b[len(b)-1])
	ps := fields(t, b[len(b)-1-psLen:len(b)-1])
	require.Equal(t, uint64(Zstd), ps[2])
	require.Equal(t, "ORC", string(ps[8000].([]byte)))
	footLen := int(ps[1].(uint64))
	footStart := len(b) - 1 - psLen - footLen
	foot := fields(t, decodeChunks(t, Zstd, DefaultBlockSize, b[footStart:footStart+footLen]))
	require.Equal(t, uint64(100), foot[6])
}

// fields decodes a protobuf message's last value per field number.
func fields(t *testing.T, b []byte) map[protowire.Number]any {
	out := map[protowire.Number]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		require.Positive(t, n)
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			require.Positive(t, n)
			out[num], b = v, b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			require.Positive(t, n)
			out[num], b = v, b[n:]
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
	}
	return out
}

func TestNewWriter_RejectsBadTypes(t *testing.T) {
	for name, typ := range map[string]*Type{
		"not a struct":       {Kind: Int},
		"list without child": {Kind: Struct, FieldNames: []string{"a"}, Children: []*Type{{Kind: List}}},
		"names mismatch":     {Kind: Struct, FieldNames: nil, Children: []*Type{{Kind: Int}}},
		"bad decimal":        {Kind: Struct, FieldNames: []string{"a"}, Children: []*Type{{Kind: Decimal, Precision: 40}}},
		"unknown kind":       {Kind: Struct, FieldNames: []string{"a"}, Children: []*Type{{Kind: 99}}},
	} {
		_, err := NewWriter(io.Discard, typ, Options{})
		require.Error(t, err, name)
	}
}

func TestWriter_EmptyFile(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, allTypes(), Options{Compression: Snappy})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	r, err := scorc.NewReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Zero(t, r.NumRows())
}
