package wasm

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// native is the in-process counterpart of sdkmod's pass-through modes:
// "keep" continues each record as it is, "echo" continues it with a copy
// of its data (what a transform producing new data must allocate).
type native struct{ echo bool }

func (n native) Process(_ context.Context, in []record.Record) ([]transform.Result, error) {
	var arena []byte
	if n.echo {
		total := 0
		for i := range in {
			total += len(in[i].Data)
		}
		arena = make([]byte, 0, total)
	}
	outs := make([]record.Record, len(in))
	res := make([]transform.Result, len(in))
	for i := range in {
		outs[i] = in[i]
		if n.echo {
			start := len(arena)
			arena = append(arena, in[i].Data...)
			outs[i].Data = arena[start:len(arena):len(arena)]
		}
		res[i] = transform.Result{Status: transform.Ok, Out: outs[i : i+1 : i+1]}
	}
	return res, nil
}

func (native) Close(context.Context) error { return nil }

// BenchmarkPassThrough compares a pass-through WASM module with the same
// transform in native Go, per batch size and record size, in two modes:
// keep (data unchanged, nothing copied back) and echo (data copied back).
func BenchmarkPassThrough(b *testing.B) {
	wasmProc := newProc(b, "sdkmod", func(c *Config) { c.MemoryLimit = 1 << 30 })
	// The same module without wazero's termination checks (no deadline):
	// shows what the checks cost a Go module, which enters a loop in
	// every function.
	unchecked := newProc(b, "sdkmod", func(c *Config) { c.MemoryLimit, c.uninterruptible = 1<<30, true })
	for _, mode := range []string{"keep", "echo"} {
		for _, batch := range []int{1, 100, 10000} {
			for _, size := range []int{100, 10 << 10} {
				in := testRecords(batch, size)
				for i := range in {
					in[i].Key = mode
				}
				for _, impl := range []struct {
					name string
					p    transform.Processor
				}{
					{"wasm", wasmProc},
					{"wasm-unchecked", unchecked},
					{"native", native{echo: mode == "echo"}},
				} {
					name := fmt.Sprintf("%s/batch=%d/size=%d/%s", mode, batch, size, impl.name)
					b.Run(name, func(b *testing.B) { benchProcess(b, impl.p, in) })
				}
			}
		}
	}
}

func benchProcess(b *testing.B, p transform.Processor, in []record.Record) {
	var n int64
	for i := range in {
		n += int64(len(in[i].Data))
	}
	res, err := p.Process(b.Context(), in)
	require.NoError(b, err)
	require.Len(b, res, len(in))
	require.Equal(b, transform.Ok, res[len(res)-1].Status)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Process(b.Context(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(in))/b.Elapsed().Seconds(), "records/s")
}
