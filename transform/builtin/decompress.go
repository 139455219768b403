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

// DefaultMaxDecompressedSize caps one record's decompressed size.
const DefaultMaxDecompressedSize = 64 << 20

// ErrDecompress wraps every per-record decompression failure.
var ErrDecompress = errors.New("decompression failed")

// maxDeflateRatio is deflate's worst-case expansion (258-byte matches coded
// in about two bits), used to distrust a gzip size trailer that claims more.
const maxDeflateRatio = 1032

var gzipMagic = []byte{0x1f, 0x8b}

// DecompressOptions configures Decompress. The zero value is ready to use.
type DecompressOptions struct {
	// MaxSize fails a record that decompresses to more bytes (a gzip bomb);
	// 0 means DefaultMaxDecompressedSize.
	MaxSize int64
}

// Decompress gunzips records, like Firehose's Decompression processor for
// CloudWatch Logs subscription payloads. Data without the gzip magic passes
// through unchanged. It is safe for concurrent use; gzip readers are pooled
// per processor.
type Decompress struct {
	max  int64
	pool sync.Pool // *gunzipper
}

type gunzipper struct {
	src bytes.Reader
	zr  gzip.Reader
}

var _ transform.Processor = (*Decompress)(nil)

// NewDecompress returns the processor; a negative MaxSize counts as 0.
func NewDecompress(opts DecompressOptions) *Decompress {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxDecompressedSize
	}
	return &Decompress{max: opts.MaxSize}
}

// Process returns each record Ok with its decompressed data (or unchanged
// when it is not gzip), or Failed with an error wrapping ErrDecompress when
// the stream is corrupt or larger than MaxSize. A cancelled ctx fails the
// whole call.
func (d *Decompress) Process(ctx context.Context, in []record.Record) ([]transform.Result, error) {
	res := make([]transform.Result, len(in))
	outs := make([]record.Record, len(in))
	for i := range in {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		outs[i] = in[i]
		if bytes.HasPrefix(in[i].Data, gzipMagic) {
			data, err := d.gunzip(in[i].Data)
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

func (d *Decompress) gunzip(data []byte) ([]byte, error) {
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
	out := make([]byte, 0, d.sizeHint(data))
	var probe [512]byte
	for {
		if len(out) == cap(out) {
			// Full: probe before growing, so an exact size hint costs no
			// second buffer when the stream ends here.
			n, err := g.zr.Read(probe[:])
			if int64(len(out)+n) > d.max {
				return nil, d.tooLarge()
			}
			out = append(out, probe[:n]...)
			if done, err := endOfStream(err); done || err != nil {
				return out, err
			}
			continue
		}
		n, err := g.zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if int64(len(out)) > d.max {
			return nil, d.tooLarge()
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

func (d *Decompress) tooLarge() error {
	return fmt.Errorf("decompressed size exceeds the limit of %d bytes", d.max)
}

// sizeHint trusts the gzip ISIZE trailer only as far as deflate could
// possibly expand this input and the configured cap allow, so a lying
// trailer cannot make a tiny record allocate the maximum.
func (d *Decompress) sizeHint(data []byte) int {
	guess := int64(4 * len(data))
	if len(data) >= 18 { // 10-byte header + 8-byte trailer
		isize := int64(binary.LittleEndian.Uint32(data[len(data)-4:]))
		if isize <= int64(len(data))*maxDeflateRatio {
			guess = isize
		}
	}
	return int(min(max(guess, 512), d.max+1))
}

// Close does nothing.
func (d *Decompress) Close(context.Context) error { return nil }
