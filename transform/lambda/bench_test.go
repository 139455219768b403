package lambda

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

// BenchmarkHTTPPassThrough measures the Lambda contract over loopback HTTP
// with a pass-through handler written with aws-lambda-go: JSON and base64
// both ways, plus the round trip. Compare with transform/wasm's benchmark
// of the same transform.
func BenchmarkHTTPPassThrough(b *testing.B) {
	for _, size := range []int{100, 10 << 10} {
		for _, batch := range []int{1, 100, 10_000} {
			if size*batch > 64<<20 {
				continue
			}
			b.Run(fmt.Sprintf("record=%dB/batch=%d", size, batch), func(b *testing.B) {
				p := newHTTP(b, newFront(b, passHandler).URL, Config{Timeout: time.Minute})
				benchProcess(b, p, size, batch)
			})
		}
	}
}

// BenchmarkExecPassThrough is the same over a child's stdin and stdout.
func BenchmarkExecPassThrough(b *testing.B) {
	for _, size := range []int{100, 10 << 10} {
		for _, batch := range []int{1, 100, 10_000} {
			b.Run(fmt.Sprintf("record=%dB/batch=%d", size, batch), func(b *testing.B) {
				exe := testExecutable(b)
				p, err := NewExec(ExecConfig{Config: Config{Timeout: time.Minute}, Command: []string{exe}, Env: map[string]string{childEnv: "pass"}})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close(b.Context())
				benchProcess(b, p, size, batch)
			})
		}
	}
}

func benchProcess(b *testing.B, p *Processor, size, batch int) {
	in := make([]record.Record, batch)
	data := []byte(strings.Repeat("x", size))
	for i := range in {
		in[i] = record.Record{ID: fmt.Sprintf("id%08d", i), Data: data, Arrived: time.Now(), Seq: uint64(i)}
	}
	b.SetBytes(int64(size * batch))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		res, err := p.Process(b.Context(), in)
		if err != nil || len(res) != batch {
			b.Fatal(err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
