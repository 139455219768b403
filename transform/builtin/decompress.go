package builtin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// Default inflation budgets. A CloudWatch Logs payload holds at most about
// 1 MiB of log events, so 64 MiB per record leaves ample room for other gzip
// producers while refusing bombs. One Process call gets about one stream
// read (1 MiB of input by default); even at a text-heavy 100:1 ratio that
// inflates to about 100 MiB, so 128 MiB per call fails only what a bomb
// inflates, and holds two largest records.
const (
	DefaultMaxRecordBytes = 64 << 20
	DefaultMaxBatchBytes  = 128 << 20
)

// ErrDecompress wraps every per-record decompression failure.
var ErrDecompress = errors.New("decompression failed")

// maxDeflateRatio is deflate's worst-case expansion (258-byte matches coded
// in about two bits), used to distrust a gzip size trailer that claims more.
const maxDeflateRatio = 1032

var gzipMagic = []byte{0x1f, 0x8b}

// DecompressOptions configures Decompress. The zero value is ready to use.
type DecompressOptions struct {
	// MaxRecordBytes fails a record that decompresses to more bytes (a gzip
	// bomb); 0 or less means DefaultMaxRecordBytes.
	MaxRecordBytes int64
	// MaxBatchBytes bounds what one Process call inflates in all, so that
	// many records each under MaxRecordBytes cannot add up to gigabytes.
	// Records are inflated in order; one that would take the call past the
	// budget fails, and later records still inflate while they fit. 0 or
	// less means DefaultMaxBatchBytes.
	MaxBatchBytes int64
}

// Decompress gunzips records, like Firehose's Decompression processor for
// CloudWatch Logs subscription payloads. Data without the gzip magic passes
// through unchanged. It is safe for concurrent use; gzip readers are pooled
// per processor.
type Decompress struct {
	maxRecord, maxBatch int64
	pool                sync.Pool // *gunzipper
}

type gunzipper struct {
	src bytes.Reader
	zr  gzip.Reader
}

var _ transform.Processor = (*Decompress)(nil)

// NewDecompress returns the processor.
func NewDecompress(opts DecompressOptions) *Decompress {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = DefaultMaxBatchBytes
	}
	return &Decompress{maxRecord: opts.MaxRecordBytes, maxBatch: opts.MaxBatchBytes}
}

// Process returns each record Ok with its decompressed data (or unchanged
// when it is not gzip), or Failed with an error wrapping ErrDecompress when
// the stream is corrupt, larger than MaxRecordBytes, or larger than what is
// left of the call's MaxBatchBytes. A failed record is not held or retried:
// it goes to the backup as processing-failed, as in Firehose. A cancelled
// ctx fails the whole call.
func (d *Decompress) Process(ctx context.Context, in []record.Record) ([]transform.Result, error) {
	res := make([]transform.Result, len(in))
	outs := make([]record.Record, len(in))
	left := d.maxBatch // inflated bytes this call may still produce
	for i := range in {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		outs[i] = in[i]
		if bytes.HasPrefix(in[i].Data, gzipMagic) {
			data, err := d.gunzip(in[i].Data, d.limit(left))
			left -= int64(len(data))
			if err != nil {
				res[i] = transform.Result{Status: transform.Failed, Err: fmt.Errorf("%w: %v", ErrDecompress, err)}
				continue
			}
			outs[i].Data = data
		}
		res[i] = transform.Result{Status: transform.Ok, Out: outs[i : i+1 : i+1]}
	}
	return res, nil
}

// limit is the most one record may inflate to with left bytes of the
// call's budget remaining.
func (d *Decompress) limit(left int64) budget {
	if left < d.maxRecord {
		return budget{max: left, batch: d.maxBatch}
	}
	return budget{max: d.maxRecord}
}

// budget is a record's inflation limit; batch, when set, says it is what
// was left of that per-call budget (for the error).
type budget struct {
	max, batch int64
}

func (b budget) exceeded() error {
	if b.batch > 0 {
		return fmt.Errorf("decompressed size exceeds the batch budget of %d bytes", b.batch)
	}
	return fmt.Errorf("decompressed size exceeds the record limit of %d bytes", b.max)
}

func (d *Decompress) gunzip(data []byte, lim budget) ([]byte, error) {
	g, _ := d.pool.Get().(*gunzipper)
	if g == nil {
		g = new(gunzipper)
	}
	defer func() {
		g.src.Reset(nil) // do not pin the record's buffer while pooled
		d.pool.Put(g)
	}()
	g.src.Reset(data)
	if err := g.zr.Reset(&g.src); err != nil {
		return nil, fmt.Errorf("gzip header: %w", err)
	}
	out := make([]byte, 0, sizeHint(data, lim.max))
	var probe [512]byte
	for {
		if len(out) == cap(out) {
			// Full: probe before growing, so an exact size hint costs no
			// second buffer when the stream ends here.
			n, err := g.zr.Read(probe[:])
			if int64(len(out)+n) > lim.max {
				return nil, lim.exceeded()
			}
			out = append(out, probe[:n]...)
			if done, err := endOfStream(err); done || err != nil {
				return out, err
			}
			continue
		}
		n, err := g.zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if int64(len(out)) > lim.max {
			return nil, lim.exceeded()
		}
		if done, err := endOfStream(err); done || err != nil {
			return out, err
		}
	}
}

func endOfStream(err error) (bool, error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, io.EOF):
		return true, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return false, errors.New("gzip stream truncated")
	default:
		return false, fmt.Errorf("corrupt gzip stream: %w", err)
	}
}

// sizeHint trusts the gzip ISIZE trailer only as far as deflate could
// possibly expand this input and the record's limit allow, so a lying
// trailer cannot make a tiny record allocate the maximum.
func sizeHint(data []byte, limit int64) int {
	guess := int64(4 * len(data))
	if len(data) >= 18 { // 10-byte header + 8-byte trailer
		isize := int64(binary.LittleEndian.Uint32(data[len(data)-4:]))
		if isize <= int64(len(data))*maxDeflateRatio {
			guess = isize
		}
	}
	return int(min(max(guess, 512), limit+1))
}

// Close does nothing.
func (d *Decompress) Close(context.Context) error { return nil }
