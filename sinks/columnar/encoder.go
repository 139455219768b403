package columnar

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/hydrant-io/hydrant/sinks/columnar/orc"
)

// File formats.
const (
	Parquet = "parquet"
	ORC     = "orc"
)

// DefaultBlockBytes is how much input JSON a Writer takes before it writes
// out a Parquet row group or an ORC stripe. It bounds a writer's memory
// (about this much for ORC's uncompressed streams, less for Parquet's
// compressed pages) while keeping row groups large enough to scan well.
const DefaultBlockBytes = 32 << 20

// Option tunes an Encoder.
type Option func(*Encoder)

// WithBlockBytes sets the input bytes per row group or stripe (default
// DefaultBlockBytes).
func WithBlockBytes(n int) Option {
	return func(e *Encoder) {
		if n > 0 {
			e.blockBytes = n
		}
	}
}

// Encoder converts JSON records of one destination into Parquet or ORC
// files. It is immutable and safe for concurrent use; each file is a
// Writer.
type Encoder struct {
	kind       string
	schema     *Schema
	conv       *converter
	blockBytes int

	pqSchema *parquet.Schema
	pqCodec  compress.Codec
	orcType  *orc.Type
	orcComp  orc.Compression
}

// NewEncoder returns an Encoder of kind "parquet" (compression none,
// snappy, gzip or zstd) or "orc" (none, snappy, zlib or its alias gzip,
// zstd). An empty compression means snappy, Firehose's default for both.
func NewEncoder(kind, compression string, s *Schema, opts ...Option) (*Encoder, error) {
	if s == nil || len(s.Columns) == 0 {
		return nil, errors.New("columnar: empty schema")
	}
	if compression == "" {
		compression = "snappy"
	}
	e := &Encoder{kind: kind, schema: s, conv: newConverter(s), blockBytes: DefaultBlockBytes}
	for _, o := range opts {
		o(e)
	}
	switch kind {
	case Parquet:
		codec, ok := parquetCodecs[compression]
		if !ok {
			return nil, fmt.Errorf("columnar: parquet compression %q (want none, snappy, gzip, zstd)", compression)
		}
		e.pqCodec = codec
		e.pqSchema = parquetSchema(s)
	case ORC:
		c, err := orc.ParseCompression(compression)
		if err != nil {
			return nil, fmt.Errorf("columnar: %w", err)
		}
		e.orcComp = c
		e.orcType = orcSchema(s)
	default:
		return nil, fmt.Errorf("columnar: unknown format %q (want parquet or orc)", kind)
	}
	return e, nil
}

// Extension returns the file name extension: ".parquet" or ".orc".
func (e *Encoder) Extension() string { return "." + e.kind }

// Kind returns "parquet" or "orc".
func (e *Encoder) Kind() string { return e.kind }

// Schema returns the schema the encoder converts to.
func (e *Encoder) Schema() *Schema { return e.schema }

// fileWriter is one open file of either format.
type fileWriter interface {
	// convert turns a record into the pending row, or fails with a
	// *ConversionError and leaves the file as it was.
	convert(data []byte) error
	// writeRow adds the pending row to the file.
	writeRow() error
	flush() error
	close() error
}

// Writer writes one file. It is not safe for concurrent use.
type Writer struct {
	e       *Encoder
	f       fileWriter
	pending int // input bytes since the last row group or stripe
	rows    int
	err     error // fatal: the file is unusable
	closed  bool
}

// NewWriter starts a file written to w. The caller must Close it to get a
// valid file; Close does not close w.
func (e *Encoder) NewWriter(w io.Writer) *Writer {
	fw := &Writer{e: e}
	switch e.kind {
	case Parquet:
		fw.f = newParquetFile(w, e)
	case ORC:
		ow, err := orc.NewWriter(w, e.orcType, orc.Options{Compression: e.orcComp})
		if err != nil {
			fw.err = fmt.Errorf("columnar: %w", err) // NewEncoder checked the type; not expected
		}
		fw.f = newORCFile(ow, e.conv)
	}
	return fw
}

// ErrClosed is returned by a Writer used after Close.
var ErrClosed = errors.New("columnar: writer closed")

// Write converts one JSON record into one row. It returns a
// *ConversionError when the record does not fit the schema (the row is
// not written; the file stays valid), or another error, after which the
// file is unusable and every later call fails.
func (w *Writer) Write(data []byte) (err error) {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := w.convert(data); err != nil {
		return err
	}
	if err := w.f.writeRow(); err != nil {
		w.err = fmt.Errorf("columnar: write %s row: %w", w.e.kind, err)
		return w.err
	}
	w.rows++
	w.pending += len(data)
	if w.pending >= w.e.blockBytes {
		w.pending = 0
		if err := w.f.flush(); err != nil {
			w.err = fmt.Errorf("columnar: write %s: %w", w.e.kind, err)
			return w.err
		}
	}
	return nil
}

// convert converts data into the pending row. A panic here, which converted input should never
// cause, fails the record rather than the process: nothing has reached
// the file yet.
func (w *Writer) convert(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &ConversionError{Reason: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	return w.f.convert(data)
}

// Rows returns the number of rows written.
func (w *Writer) Rows() int { return w.rows }

// Close writes the remaining rows and the file footer. A file with no
// rows is still a valid, empty file.
func (w *Writer) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.f.close(); err != nil {
		return fmt.Errorf("columnar: close %s: %w", w.e.kind, err)
	}
	return nil
}
