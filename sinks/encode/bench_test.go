package encode

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// benchObjectSize is the uncompressed size of one benchmark object.
const benchObjectSize = 8 << 20

// countWriter counts and discards what it is given.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// writeRecords writes data one 1 KiB record per Write, as the object sink does.
func writeRecords(b *testing.B, w io.WriteCloser, data []byte) {
	for off := 0; off < len(data); off += recordSize {
		if _, err := w.Write(data[off:min(off+recordSize, len(data))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// reportRatio adds the compression ratio and records/s to b's results.
func reportRatio(b *testing.B, in int, out int64, objects int) {
	b.ReportMetric(float64(in)/float64(out), "ratio")
	b.ReportMetric(float64(objects)*float64(in/recordSize)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNewWriter: one goroutine, so MB/s is input throughput per core.
func BenchmarkNewWriter(b *testing.B) {
	data := jsonLines(benchObjectSize, 100)
	for _, compression := range codecs {
		b.Run(compression, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var c countWriter
			objects := 0
			for b.Loop() {
				c = countWriter{}
				w, err := NewWriter(&c, compression, testEntryName, testModTime)
				if err != nil {
					b.Fatal(err)
				}
				writeRecords(b, w, data)
				objects++
			}
			reportRatio(b, len(data), c.n, objects)
		})
	}
}

// BenchmarkNewWriterParallel compresses one object per goroutine on all cores,
// as the runtime does: MB/s is the machine's aggregate input throughput.
func BenchmarkNewWriterParallel(b *testing.B) {
	data := jsonLines(benchObjectSize, 101)
	for _, compression := range codecs[1:] {
		b.Run(compression, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var c countWriter
					w, err := NewWriter(&c, compression, testEntryName, testModTime)
					if err != nil {
						b.Error(err)
						return
					}
					writeRecords(b, w, data)
				}
			})
		})
	}
}

// BenchmarkCompress measures the pull path (goroutine + pipe) end to end.
func BenchmarkCompress(b *testing.B) {
	data := jsonLines(benchObjectSize, 102)
	for _, compression := range codecs[1:] {
		b.Run(compression, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var n int64
			objects := 0
			for b.Loop() {
				rc := Compress(b.Context(), bytes.NewReader(data), compression, testEntryName, testModTime)
				var err error
				n, err = io.Copy(io.Discard, rc)
				if err != nil {
					b.Fatal(err)
				}
				_ = rc.Close()
				objects++
			}
			reportRatio(b, len(data), n, objects)
		})
	}
}

// BenchmarkSmallObject shows the per-object cost of taking a writer from the
// pools: 16 records per object.
func BenchmarkSmallObject(b *testing.B) {
	data := jsonLines(16*recordSize, 103)
	for _, compression := range codecs[1:] {
		b.Run(compression, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				w, err := NewWriter(io.Discard, compression, testEntryName, testModTime)
				if err != nil {
					b.Fatal(err)
				}
				writeRecords(b, w, data)
			}
		})
	}
}

// BenchmarkLevels is the measurement behind deflateLevel and zstdLevel.
func BenchmarkLevels(b *testing.B) {
	data := jsonLines(benchObjectSize, 104)
	run := func(name string, open func(io.Writer) (io.WriteCloser, error)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var c countWriter
			objects := 0
			for b.Loop() {
				c = countWriter{}
				w, err := open(&c)
				if err != nil {
					b.Fatal(err)
				}
				writeRecords(b, w, data)
				objects++
			}
			reportRatio(b, len(data), c.n, objects)
		})
	}
	for _, level := range []int{gzip.StatelessCompression, gzip.BestSpeed, 3, gzip.DefaultCompression} {
		run(fmt.Sprintf("gzip-level%d", level), func(w io.Writer) (io.WriteCloser, error) {
			return gzip.NewWriterLevel(w, level)
		})
	}
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		run("zstd-"+level.String(), func(w io.Writer) (io.WriteCloser, error) {
			return zstd.NewWriter(w, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1))
		})
	}
}
