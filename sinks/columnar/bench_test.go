package columnar

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hydrant-io/hydrant/sinks/encode"
)

// benchSchema matches benchRecords: flat and nested columns of every
// common kind.
const benchSchema = `
columns:
  - {name: id, type: int64}
  - {name: user_id, type: string}
  - {name: ts, type: timestamp}
  - {name: amount, type: "decimal(10,2)"}
  - {name: quantity, type: int32}
  - {name: price, type: double}
  - {name: ok, type: boolean}
  - {name: day, type: date}
  - {name: tags, type: "list<string>"}
  - {name: device, type: "struct<os:string,version:int32,model:string>"}
  - {name: attrs, type: "map<string,string>"}
  - {name: message, type: string}
`

// benchRecords returns n JSON records of about 1 KiB each, with the
// repetition typical of event data (so that compression has something
// to find, as in real streams).
func benchRecords(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over lazy dog firehose stream record delivery buffer shard " +
		"parquet orc column error retry backup partition checkpoint latency region bucket object prefix")
	oses := []string{"linux", "android", "ios", "windows"}
	recs := make([][]byte, n)
	for i := range recs {
		var msg strings.Builder
		for msg.Len() < 560 {
			msg.WriteString(words[rng.IntN(len(words))])
			msg.WriteByte(' ')
		}
		recs[i] = fmt.Appendf(nil, `{"id":%d,"user_id":"user-%06d","ts":"2024-05-%02dT%02d:%02d:%02d.%03dZ","amount":"%d.%02d",`+
			`"quantity":%d,"price":%.4f,"ok":%t,"day":"2024-05-%02d","tags":["%s","%s","%s"],`+
			`"device":{"os":"%s","version":%d,"model":"model-%d"},"attrs":{"region":"eu-west-%d","plan":"%s","ab":"%c"},"message":"%s"}`,
			1_000_000+i, rng.IntN(50000), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000),
			rng.IntN(10000), rng.IntN(100), 1+rng.IntN(20), rng.Float64()*100, rng.IntN(2) == 0, 1+rng.IntN(28),
			words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			oses[rng.IntN(len(oses))], 10+rng.IntN(5), rng.IntN(300), 1+rng.IntN(3), words[rng.IntN(4)], 'A'+rune(rng.IntN(2)),
			msg.String())
	}
	return recs
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkEncode converts one 4 MiB batch of 1 KiB records per
// iteration on one goroutine: MB/s is input JSON per core; "ratio" is
// input bytes per output byte. ndjson-gzip is the plain JSON object path
// (records concatenated through sinks/encode's gzip) for comparison.
func BenchmarkEncode(b *testing.B) {
	recs := benchRecords(4096)
	var in int64
	for _, r := range recs {
		in += int64(len(r))
	}
	s, err := ParseSchema("bench.yaml", []byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	// all records must convert, or the comparison is unfair
	check, _ := NewEncoder(Parquet, "none", s)
	cw := check.NewWriter(io.Discard)
	for _, r := range recs {
		if err := cw.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	cases := []struct{ kind, compression string }{
		{"ndjson", "gzip"},
		{Parquet, "none"}, {Parquet, "snappy"}, {Parquet, "gzip"}, {Parquet, "zstd"},
		{ORC, "none"}, {ORC, "snappy"}, {ORC, "zlib"}, {ORC, "zstd"},
	}
	for _, tc := range cases {
		b.Run(tc.kind+"-"+tc.compression, func(b *testing.B) {
			var enc *Encoder
			if tc.kind != "ndjson" {
				if enc, err = NewEncoder(tc.kind, tc.compression, s); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(in)
			b.ReportAllocs()
			var out countWriter
			for b.Loop() {
				out.n = 0
				if enc == nil {
					gz, err := encode.NewWriter(&out, encode.Gzip, "", time.Time{})
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range recs {
						if _, err := gz.Write(r); err != nil {
							b.Fatal(err)
						}
					}
					if err := gz.Close(); err != nil {
						b.Fatal(err)
					}
					continue
				}
				w := enc.NewWriter(&out)
				for _, r := range recs {
					if err := w.Write(r); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(in)/float64(out.n), "ratio")
		})
	}
}
