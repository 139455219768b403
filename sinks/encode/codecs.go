package encode

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// Levels, chosen by measurement (BenchmarkLevels, 1 KiB JSON records, one
// core): Hydrant must sustain 200 MiB/s of gzip input on two cores, so per-core
// throughput wins over the last tenth of compression ratio.
//
//   - Deflate (gzip and zip) at BestSpeed runs about 1.8x faster than the default
//     level for about 10% larger output; StatelessCompression is slower than both
//     and compresses 1 KiB writes poorly (it keeps no history between writes).
//   - zstd SpeedFastest runs about 1.5x faster than SpeedDefault for about 8%
//     larger output.
//   - Snappy uses s2's default (fast) snappy-compatible encoder.
const (
	deflateLevel = flate.BestSpeed
	zstdLevel    = zstd.SpeedFastest
)

// Pools of compressor state. A compressor is Reset onto its next destination
// when taken and detached from the old one (Reset onto nil or io.Discard)
// when put back, so a pooled writer never keeps an object's sink alive.
var (
	gzipPool = sync.Pool{New: func() any {
		w, err := gzip.NewWriterLevel(io.Discard, deflateLevel)
		if err != nil {
			panic(err) // deflateLevel is a valid constant
		}
		return w
	}}
	flatePool = sync.Pool{New: func() any {
		w, err := flate.NewWriter(io.Discard, deflateLevel)
		if err != nil {
			panic(err) // deflateLevel is a valid constant
		}
		return w
	}}
	zstdPool = sync.Pool{New: func() any {
		// Concurrency 1 makes the encoder synchronous: no goroutines to leak
		// when a pooled encoder is dropped by the GC.
		w, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true), // an empty object is still a valid .zst
		)
		if err != nil {
			panic(err) // constant, valid options
		}
		return w
	}}
	snappyPool = sync.Pool{New: func() any {
		// Concurrency 1: synchronous, no writer goroutine.
		return s2.NewWriter(nil, s2.WriterSnappyCompat(), s2.WriterConcurrency(1))
	}}
)

// gzipWriter is a pooled gzip.Writer.
type gzipWriter struct{ z *gzip.Writer }

func newGzipWriter(w io.Writer, modTime time.Time) *gzipWriter {
	z := gzipPool.Get().(*gzip.Writer)
	z.Reset(w)
	z.ModTime = modTime // zero leaves MTIME unset
	return &gzipWriter{z: z}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.z == nil {
		return 0, ErrClosed
	}
	return g.z.Write(p)
}

func (g *gzipWriter) Close() error {
	if g.z == nil {
		return nil
	}
	err := g.z.Close()
	g.z.Reset(io.Discard)
	gzipPool.Put(g.z)
	g.z = nil
	if err != nil {
		return fmt.Errorf("encode: gzip: %w", err)
	}
	return nil
}

// zstdWriter is a pooled zstd.Encoder.
type zstdWriter struct{ e *zstd.Encoder }

func newZstdWriter(w io.Writer) *zstdWriter {
	e := zstdPool.Get().(*zstd.Encoder)
	e.Reset(w)
	return &zstdWriter{e: e}
}

func (z *zstdWriter) Write(p []byte) (int, error) {
	if z.e == nil {
		return 0, ErrClosed
	}
	return z.e.Write(p)
}

func (z *zstdWriter) Close() error {
	if z.e == nil {
		return nil
	}
	err := z.e.Close()
	z.e.Reset(io.Discard)
	zstdPool.Put(z.e)
	z.e = nil
	if err != nil {
		return fmt.Errorf("encode: zstd: %w", err)
	}
	return nil
}

// snappyStreamIdentifier is the framing format's stream identifier chunk:
// type 0xff, length 6, "sNaPpY".
const snappyStreamIdentifier = "\xff\x06\x00\x00sNaPpY"

// snappyWriter is a pooled s2.Writer in snappy-compatible mode, which writes
// the Snappy framing format.
type snappyWriter struct {
	s *s2.Writer
	w io.Writer
	n int64 // bytes written, to tell an empty stream apart
}

func newSnappyWriter(w io.Writer) *snappyWriter {
	s := snappyPool.Get().(*s2.Writer)
	s.Reset(w)
	return &snappyWriter{s: s, w: w}
}

func (s *snappyWriter) Write(p []byte) (int, error) {
	if s.s == nil {
		return 0, ErrClosed
	}
	n, err := s.s.Write(p)
	s.n += int64(n)
	return n, err
}

func (s *snappyWriter) Close() error {
	if s.s == nil {
		return nil
	}
	err := s.s.Close()
	s.s.Reset(nil)
	snappyPool.Put(s.s)
	s.s = nil
	if err == nil && s.n == 0 {
		// s2 writes nothing for empty input; a framed stream should still
		// start with its identifier so readers can recognise the format.
		_, err = io.WriteString(s.w, snappyStreamIdentifier)
	}
	if err != nil {
		return fmt.Errorf("encode: snappy: %w", err)
	}
	return nil
}

// zipWriter writes a zip archive holding a single Deflate entry.
type zipWriter struct {
	z     *zip.Writer
	entry io.Writer
}

func newZipWriter(w io.Writer, name string, modTime time.Time) (*zipWriter, error) {
	z := zip.NewWriter(w)
	z.RegisterCompressor(zip.Deflate, newPooledFlate)
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate}
	hdr.SetMode(0o644)
	if !modTime.IsZero() {
		// UTC, like the object key's timestamp. The writer also stores the
		// Unix time in an extended-timestamp field, which readers prefer.
		hdr.Modified = modTime.UTC()
	}
	entry, err := z.CreateHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("encode: zip: %w", err)
	}
	return &zipWriter{z: z, entry: entry}, nil
}

func (z *zipWriter) Write(p []byte) (int, error) {
	if z.entry == nil {
		return 0, ErrClosed
	}
	return z.entry.Write(p)
}

// Close finishes the entry and writes the central directory.
func (z *zipWriter) Close() error {
	if z.entry == nil {
		return nil
	}
	z.entry = nil
	if err := z.z.Close(); err != nil {
		return fmt.Errorf("encode: zip: %w", err)
	}
	return nil
}

// pooledFlate is a zip Compressor at deflateLevel whose flate.Writer goes back
// to flatePool when the entry is closed.
type pooledFlate struct{ f *flate.Writer }

func newPooledFlate(w io.Writer) (io.WriteCloser, error) {
	f := flatePool.Get().(*flate.Writer)
	f.Reset(w)
	return &pooledFlate{f: f}, nil
}

func (p *pooledFlate) Write(b []byte) (int, error) {
	if p.f == nil {
		return 0, ErrClosed
	}
	return p.f.Write(b)
}

func (p *pooledFlate) Close() error {
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f.Reset(io.Discard)
	flatePool.Put(p.f)
	p.f = nil
	return err
}
