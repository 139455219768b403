package builtin

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

func TestAppendDelimiter(t *testing.T) {
	tests := []struct {
		name  string
		delim string
		in    []string
		want  []string
	}{
		{"default newline", "", []string{`{"a":1}`, `{"a":2}`}, []string{"{\"a\":1}\n", "{\"a\":2}\n"}},
		{"custom", "####", []string{"x", ""}, []string{"x####", "####"}},
		{"empty batch", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewAppendDelimiter(tt.delim)
			in := make([]record.Record, len(tt.in))
			for i, s := range tt.in {
				in[i] = record.Record{ID: s + "-id", Seq: uint64(i), Shard: "shardId-000000000000",
					Data: []byte(s), Meta: map[string]string{"k": "v"}}
			}
			res, err := p.Process(t.Context(), in)
			require.NoError(t, err)
			require.Len(t, res, len(in))
			for i, r := range res {
				require.Equal(t, transform.Ok, r.Status)
				require.Len(t, r.Out, 1)
				require.Equal(t, tt.want[i], string(r.Out[0].Data))
				require.Equal(t, in[i].ID, r.Out[0].ID)
				require.Equal(t, in[i].Seq, r.Out[0].Seq)
				require.Equal(t, in[i].Meta, r.Out[0].Meta)
				require.Equal(t, tt.in[i], string(in[i].Data), "input untouched")
			}
			require.NoError(t, p.Close(t.Context()))
		})
	}
}

func TestAppendDelimiter_NoAliasing(t *testing.T) {
	// Inputs share one backing array with spare capacity, as a read buffer would.
	shared := make([]byte, 0, 64)
	shared = append(shared, "aaabbb"...)
	in := []record.Record{{Data: shared[0:3]}, {Data: shared[3:6]}}
	res, err := NewAppendDelimiter("\n").Process(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, "aaabbb", string(shared[:6]))
	require.Equal(t, []byte{0, 0}, shared[6:8], "spare capacity of the input not written")

	// A later stage appending to one output must not clobber the next.
	a := append(res[0].Out[0].Data, 'X')
	require.Equal(t, "aaa\nX", string(a))
	require.Equal(t, "bbb\n", string(res[1].Out[0].Data))
}

func BenchmarkAppendDelimiter(b *testing.B) {
	const n, size = 500, 200
	in := make([]record.Record, n)
	for i := range in {
		in[i].Data = bytes.Repeat([]byte{'x'}, size)
	}
	p := NewAppendDelimiter("")
	b.SetBytes(n * size)
	for b.Loop() {
		if _, err := p.Process(b.Context(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}
