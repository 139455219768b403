package encode

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Hadoop-snappy framing, as written by Hadoop's BlockCompressorStream with
// SnappyCodec and read by Hive, Athena, Spark and ClickHouse:
//
//	stream   = *block
//	block    = uncompressed-length *subblock   ; sub-blocks' output adds up to it
//	subblock = compressed-length snappy-block  ; a raw (unframed) snappy block
//
// Both lengths are 4-byte big-endian. There is no stream header, checksum or
// trailer; an empty input is an empty stream.
//
// Hadoop's reader decompresses one sub-block into a direct buffer of
// io.compression.codec.snappy.buffersize (256 KiB) and refuses a compressed
// sub-block larger than that buffer, so Hadoop's writer feeds at most
// buffersize - (buffersize/6 + 32) bytes per block, the most whose worst-case
// snappy encoding still fits. We do the same and write exactly one sub-block
// per block.
const (
	hadoopBufferSize = 256 << 10
	// hadoopBlockSize is Hadoop's MAX_INPUT_SIZE for the default buffer size
	// (218,422 bytes).
	hadoopBlockSize = hadoopBufferSize - (hadoopBufferSize/6 + 32)
	hadoopHeaderLen = 8 // uncompressed length + compressed length
)

// hadoopBuffers holds a writer's input and output buffers between objects;
// they are about 470 KiB together, too much to allocate per object.
type hadoopBuffers struct {
	in  []byte // pending input, cap hadoopBlockSize
	out []byte // header + encoded block, len covers the worst case
}

var hadoopPool = sync.Pool{New: func() any {
	return &hadoopBuffers{
		in:  make([]byte, 0, hadoopBlockSize),
		out: make([]byte, hadoopHeaderLen+s2.MaxEncodedLen(hadoopBlockSize)),
	}
}}

// hadoopSnappyWriter writes the Hadoop-snappy framing. Input is buffered up to
// hadoopBlockSize and each full buffer becomes one block.
type hadoopSnappyWriter struct {
	w   io.Writer
	buf *hadoopBuffers
	err error // sticky: the stream is corrupt after a failed write
}

func newHadoopSnappyWriter(w io.Writer) *hadoopSnappyWriter {
	b := hadoopPool.Get().(*hadoopBuffers)
	b.in = b.in[:0]
	return &hadoopSnappyWriter{w: w, buf: b}
}

func (h *hadoopSnappyWriter) Write(p []byte) (int, error) {
	if h.buf == nil {
		return 0, ErrClosed
	}
	if h.err != nil {
		return 0, h.err
	}
	written := 0
	for len(p) > 0 {
		in := h.buf.in
		// A full block straight from p saves a copy for large writes.
		if len(in) == 0 && len(p) >= hadoopBlockSize {
			if err := h.writeBlock(p[:hadoopBlockSize]); err != nil {
				return written, err
			}
			written += hadoopBlockSize
			p = p[hadoopBlockSize:]
			continue
		}
		n := copy(in[len(in):cap(in)], p)
		h.buf.in = in[:len(in)+n]
		written += n
		p = p[n:]
		if len(h.buf.in) == cap(h.buf.in) {
			if err := h.writeBlock(h.buf.in); err != nil {
				return written, err
			}
			h.buf.in = h.buf.in[:0]
		}
	}
	return written, nil
}

// writeBlock writes src (at most hadoopBlockSize bytes) as one block with one
// sub-block.
func (h *hadoopSnappyWriter) writeBlock(src []byte) error {
	out := h.buf.out
	enc := s2.EncodeSnappy(out[hadoopHeaderLen:], src)
	binary.BigEndian.PutUint32(out[0:4], uint32(len(src)))
	binary.BigEndian.PutUint32(out[4:8], uint32(len(enc)))
	if _, err := h.w.Write(out[:hadoopHeaderLen+len(enc)]); err != nil {
		h.err = fmt.Errorf("encode: hadoop_snappy: %w", err)
		return h.err
	}
	return nil
}

// Close writes the last, partial block and returns the buffers to the pool.
func (h *hadoopSnappyWriter) Close() error {
	if h.buf == nil {
		return nil
	}
	err := h.err
	if err == nil && len(h.buf.in) > 0 {
		err = h.writeBlock(h.buf.in)
	}
	h.buf.in = h.buf.in[:0]
	hadoopPool.Put(h.buf)
	h.buf = nil
	return err
}
