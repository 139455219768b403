package orc

import (
	"bytes"
	"fmt"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Compression is an ORC file's compression kind (PostScript.compression).
type Compression int

// The compressions this writer supports, numbered as in ORC's
// CompressionKind.
const (
	None   Compression = 0
	Zlib   Compression = 1 // raw deflate, no zlib header (as ORC's Java writer)
	Snappy Compression = 2 // raw snappy blocks
	Zstd   Compression = 5 // one zstd frame per chunk
)

// ParseCompression maps a config name to a Compression: none, zlib (or
// gzip, the same deflate), snappy, zstd.
func ParseCompression(name string) (Compression, error) {
	switch name {
	case "", "none":
		return None, nil
	case "zlib", "gzip":
		return Zlib, nil
	case "snappy":
		return Snappy, nil
	case "zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("orc: unknown compression %q (want none, snappy, zlib, zstd)", name)
}

func (c Compression) String() string {
	switch c {
	case None:
		return "NONE"
	case Zlib:
		return "ZLIB"
	case Snappy:
		return "SNAPPY"
	case Zstd:
		return "ZSTD"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// DefaultBlockSize is the compression chunk size: every chunk holds at
// most this many uncompressed bytes (PostScript.compressionBlockSize).
const DefaultBlockSize = 256 << 10

// maxChunk is the largest chunk length the 3-byte header can carry.
const maxChunk = 1<<23 - 1

// chunker frames streams into ORC compression chunks: each chunk is a
// 3-byte little-endian header holding length<<1 | original, then either
// the compressed bytes or, when compression does not pay, the original
// bytes. It is not safe for concurrent use; Writer owns one.
type chunker struct {
	kind      Compression
	blockSize int
	buf       []byte // compression scratch
	flate     *flate.Writer
	fbuf      bytes.Buffer
	zstd      *zstd.Encoder
}

func newChunker(kind Compression, blockSize int) (*chunker, error) {
	c := &chunker{kind: kind, blockSize: blockSize}
	switch kind {
	case None, Snappy:
	case Zlib:
		fw, err := flate.NewWriter(&c.fbuf, flate.DefaultCompression)
		if err != nil {
			return nil, err
		}
		c.flate = fw
	case Zstd:
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, err
		}
		c.zstd = zw
	default:
		return nil, fmt.Errorf("orc: unsupported compression %v", kind)
	}
	if blockSize <= 0 || blockSize > maxChunk {
		return nil, fmt.Errorf("orc: compression block size %d out of range 1..%d", blockSize, maxChunk)
	}
	return c, nil
}

// appendStream appends src framed as chunks (or as is for None) to dst.
func (c *chunker) appendStream(dst, src []byte) ([]byte, error) {
	if c.kind == None {
		return append(dst, src...), nil
	}
	for len(src) > 0 {
		n := min(len(src), c.blockSize)
		var err error
		if dst, err = c.appendChunk(dst, src[:n]); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return dst, nil
}

func (c *chunker) appendChunk(dst, raw []byte) ([]byte, error) {
	var comp []byte
	switch c.kind {
	case Snappy:
		c.buf = snappy.Encode(c.buf[:cap(c.buf)], raw)
		comp = c.buf
	case Zlib:
		c.fbuf.Reset()
		c.flate.Reset(&c.fbuf)
		if _, err := c.flate.Write(raw); err != nil {
			return nil, fmt.Errorf("orc: deflate: %w", err)
		}
		if err := c.flate.Close(); err != nil {
			return nil, fmt.Errorf("orc: deflate: %w", err)
		}
		comp = c.fbuf.Bytes()
	case Zstd:
		c.buf = c.zstd.EncodeAll(raw, c.buf[:0])
		comp = c.buf
	}
	if len(comp) < len(raw) {
		return append(appendHeader(dst, len(comp), false), comp...), nil
	}
	return append(appendHeader(dst, len(raw), true), raw...), nil
}

// appendHeader appends a chunk header: 3 bytes little-endian of
// length<<1 | original.
func appendHeader(dst []byte, length int, original bool) []byte {
	v := uint32(length) << 1
	if original {
		v |= 1
	}
	return append(dst, byte(v), byte(v>>8), byte(v>>16))
}

func (c *chunker) close() {
	if c.zstd != nil {
		_ = c.zstd.Close()
	}
}
