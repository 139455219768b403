package builtin

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

func FuzzDeaggregateKPL(f *testing.F) {
	vec, _ := hex.DecodeString(kplVector)
	f.Add(vec, false)
	f.Add(kplBody([]string{"a", "b"}, []string{"1"}, []kplSub{{pk: 1, ehk: u64(0), data: "x", tags: [][2]string{{"k", "v"}}}}), true)
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, true)
	f.Add([]byte{0x1a, 0x02, 0x08, 0xff}, true)
	f.Add([]byte{0x0b, 0x0c}, true) // an empty group
	f.Add([]byte("plain"), false)
	d, err := NewDeaggregate(DeaggregateOptions{MaxSubRecords: 1000})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap { // let the fuzzer explore the protobuf behind a valid frame
			data = kplWrap(data)
		}
		in := mkRecords(data)
		res, err := d.Process(t.Context(), in)
		require.NoError(t, err)
		requireAligned(t, in, res)
		if res[0].Status == transform.Failed {
			require.ErrorIs(t, res[0].Err, ErrDeaggregate)
			return
		}
		require.LessOrEqual(t, len(res[0].Out), 1000)
		total := 0
		for _, o := range res[0].Out {
			total += len(o.Data)
			if _, isSub := o.Meta[MetaPartitionKey]; isSub {
				require.Equal(t, len(o.Data), cap(o.Data))
			}
		}
		require.LessOrEqual(t, total, len(data), "sub-records come from the input")
	})
}

func FuzzDeaggregateJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}{"a":2}`, "{\"a\":1}\n{\"b\":[{}]}\n", `[1]`, `{"s":"}{\""}`, `{"a":`, ` `, `{]`} {
		f.Add([]byte(s))
	}
	d, err := NewDeaggregate(DeaggregateOptions{Mode: ModeJSON, MaxSubRecords: 1000})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		in := mkRecords(data)
		res, err := d.Process(t.Context(), in)
		require.NoError(t, err)
		requireAligned(t, in, res)
		if res[0].Status == transform.Failed {
			require.ErrorIs(t, res[0].Err, ErrDeaggregate)
			return
		}
		// Ok means: the data is exactly the sub-records, in order, with
		// only JSON whitespace around them, and each is a JSON object.
		pos := 0
		skip := func() {
			for pos < len(data) && isJSONSpace(data[pos]) {
				pos++
			}
		}
		for _, o := range res[0].Out {
			skip()
			require.True(t, bytes.HasPrefix(data[pos:], o.Data))
			require.Equal(t, byte('{'), o.Data[0])
			require.True(t, json.Valid(o.Data))
			pos += len(o.Data)
		}
		skip()
		require.Equal(t, len(data), pos)
	})
}

func FuzzDeaggregateDelimited(f *testing.F) {
	f.Add([]byte("a##b##"), "##")
	f.Add([]byte(""), "\n")
	f.Add([]byte("aaa"), "aa")
	f.Fuzz(func(t *testing.T, data []byte, delim string) {
		d, err := NewDeaggregate(DeaggregateOptions{Mode: ModeDelimited, Delimiter: delim, MaxSubRecords: 1000})
		if delim == "" {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		in := mkRecords(data)
		res, err := d.Process(t.Context(), in)
		require.NoError(t, err)
		requireAligned(t, in, res)
		want := strings.Split(string(data), delim)
		if want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		if len(want) > 1000 {
			require.Equal(t, transform.Failed, res[0].Status)
			require.ErrorIs(t, res[0].Err, ErrDeaggregate)
			return
		}
		require.Equal(t, transform.Ok, res[0].Status)
		if len(want) == 0 {
			want = nil
		}
		require.Equal(t, want, outData(res[0]))
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add([]byte("hello, world"), true)
	f.Add([]byte(`{"messageType":"DATA_MESSAGE"}`), false)
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0x03, 0}, false)
	f.Add([]byte{0x1f, 0x8b}, false)
	const limit = 1 << 16
	p := NewDecompress(DecompressOptions{MaxRecordBytes: limit})
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			_, _ = w.Write(data)
			_ = w.Close()
			data = buf.Bytes()
		}
		in := mkRecords(data)
		res, err := p.Process(t.Context(), in)
		require.NoError(t, err)
		requireAligned(t, in, res)
		if !bytes.HasPrefix(data, gzipMagic) {
			require.Equal(t, transform.Ok, res[0].Status)
			require.Equal(t, string(data), string(res[0].Out[0].Data))
			return
		}
		// Compare with a plain stdlib read, bounded the same way.
		var want []byte
		zr, zerr := gzip.NewReader(bytes.NewReader(data))
		if zerr == nil {
			want, zerr = io.ReadAll(io.LimitReader(zr, limit+1))
			if zerr == nil && len(want) > limit {
				zerr = errors.New("too large")
			}
		}
		if zerr != nil {
			require.Equal(t, transform.Failed, res[0].Status, "stdlib: %v", zerr)
			require.ErrorIs(t, res[0].Err, ErrDecompress)
			return
		}
		require.Equal(t, transform.Ok, res[0].Status, "%v", res[0].Err)
		require.Equal(t, string(want), string(res[0].Out[0].Data))
	})
}

// fuzzQueries are fixed: fuzzing the expressions themselves would let the
// fuzzer write unbounded programs such as [range(1e18)].
var fuzzQueries = []string{".a", ".a.b", ".a[0]", `.ts | strftime("%Y")`, ".a | tostring", ".[]", "keys[0]", ".a + 1"}

func FuzzJQMetadata(f *testing.F) {
	for i, s := range []string{`{"a":1}`, `{"a":{"b":"x"}}`, `{"a":[1,2]}`, `{"ts":1700000000}`, `[1]`, `"s"`, `{"a":1e400}`, `nul`} {
		f.Add(uint8(i), []byte(s))
	}
	procs := make([]*JQMetadata, len(fuzzQueries))
	for i, q := range fuzzQueries {
		p, err := NewJQMetadata(map[string]string{"k": q})
		require.NoError(f, err)
		procs[i] = p
	}
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		in := mkRecords(data)
		res, err := procs[int(sel)%len(procs)].Process(t.Context(), in)
		require.NoError(t, err)
		requireAligned(t, in, res)
		if res[0].Status == transform.Failed {
			require.ErrorIs(t, res[0].Err, ErrPartitionKeyFailed)
			return
		}
		require.Len(t, res[0].Out, 1)
		require.Contains(t, res[0].Out[0].Meta, record.QueryKey("k"))
		require.Equal(t, "x", res[0].Out[0].Meta["in"])
	})
}
