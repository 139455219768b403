// Package encode compresses objects for the S3 and directory sinks.
//
// A sink streams an object's records through the io.WriteCloser returned by
// NewWriter (or lets Compress do it in a goroutine and reads the result), so an
// object of any size is compressed in constant memory. The codecs and file
// extensions are Firehose's: gzip (.gz), zip (.zip, one Deflate entry), framed
// Snappy (.snappy), Hadoop-snappy (.hsnappy) and zstd (.zst).
//
// Every writer compresses on the calling goroutine only: the runtime gets its
// parallelism by compressing several objects at once, not by splitting one.
// Compressor state is expensive to allocate (zstd and flate carry large match
// tables), so writers are recycled through sync.Pools when they are closed.
// Those pools are caches with no observable state, the one kind of package
// level variable this package keeps.
package encode

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Compression names, as written in a pipeline's config.
const (
	// None stores objects uncompressed; "" means the same.
	None = "none"
	// Gzip is Firehose's GZIP: one gzip member per object.
	Gzip = "gzip"
	// Zip is Firehose's ZIP: a zip archive holding one Deflate entry.
	Zip = "zip"
	// Snappy is Firehose's Snappy: the Snappy framing format
	// (stream identifier chunk, then CRC-masked chunks of at most 64 KiB).
	Snappy = "snappy"
	// HadoopSnappy is Firehose's HADOOP_SNAPPY: Hadoop's BlockCompressorStream
	// framing around raw snappy blocks (see hadoop.go).
	HadoopSnappy = "hadoop_snappy"
	// Zstd is one zstd frame per object.
	Zstd = "zstd"
)

// ErrClosed is returned by Write on a writer that was already closed.
var ErrClosed = errors.New("encode: write after close")

// Extension returns the file extension Firehose appends for compression:
// "" for none, ".gz", ".zip", ".snappy", ".hsnappy" or ".zst".
func Extension(compression string) (string, error) {
	switch compression {
	case "", None:
		return "", nil
	case Gzip:
		return ".gz", nil
	case Zip:
		return ".zip", nil
	case Snappy:
		return ".snappy", nil
	case HadoopSnappy:
		return ".hsnappy", nil
	case Zstd:
		return ".zst", nil
	}
	return "", fmt.Errorf("encode: unknown compression %q (want one of none, gzip, zip, snappy, hadoop_snappy, zstd)", compression)
}

// Valid reports whether compression names a supported codec.
func Valid(compression string) error {
	_, err := Extension(compression)
	return err
}

// NewWriter returns a writer that compresses what is written to it into w.
//
// Close flushes and finishes the compressed stream but does not close w; call
// it on every path (also after an error): it returns the compressor to its
// pool. The writer is not safe for concurrent use.
//
// name is the entry name inside a zip archive (the object name without
// ".zip"; a trailing ".zip" is dropped) and must not be empty for zip. modTime
// is the zip entry's modification time and the gzip header's MTIME; a zero
// modTime leaves them unset. Other codecs ignore both.
func NewWriter(w io.Writer, compression, name string, modTime time.Time) (io.WriteCloser, error) {
	switch compression {
	case "", None:
		return nopCloser{w}, nil
	case Gzip:
		return newGzipWriter(w, modTime), nil
	case Zip:
		name = strings.TrimSuffix(name, ".zip")
		if name == "" {
			return nil, errors.New("encode: zip needs a non-empty entry name")
		}
		return newZipWriter(w, name, modTime)
	case Snappy:
		return newSnappyWriter(w), nil
	case HadoopSnappy:
		return newHadoopSnappyWriter(w), nil
	case Zstd:
		return newZstdWriter(w), nil
	}
	return nil, Valid(compression)
}

// nopCloser passes writes through; Close does not close the destination.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
