package encode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// pipeBufferSize batches the compressor's output before it crosses the pipe:
// flate emits a few hundred bytes per write, and every pipe write is a
// goroutine hand-off.
const pipeBufferSize = 64 << 10

// copyBufferSize is the chunk read from the source per compressor write.
const copyBufferSize = 64 << 10

// errReaderClosed is what the compressing goroutine sees once the returned
// reader has been closed.
var errReaderClosed = errors.New("encode: compressed reader closed")

// Compress returns a reader of r's bytes compressed with compression, for an
// upload API that pulls its body (ObjectStore.Put). The compression runs in a
// goroutine connected by an io.Pipe, so memory stays constant whatever the
// object size; name and modTime are as for NewWriter.
//
// A read error from r, a compressor error, an unknown compression or ctx's
// cancellation surfaces as the error of the returned reader's Read. Cancelling
// ctx or closing the reader stops the goroutine; Close waits for it to exit,
// which requires a blocked r.Read to return (bind r to ctx too). Close never
// closes r. With compression "none" r is returned as is, wrapped only to
// honour ctx.
func Compress(ctx context.Context, r io.Reader, compression, name string, modTime time.Time) io.ReadCloser {
	if compression == "" || compression == None {
		return &ctxReader{ctx: ctx, r: r}
	}
	pr, pw := io.Pipe()
	c := &compressReader{pr: pr, done: make(chan struct{})}
	// Closing the write side unblocks a pending pipe write; the first close
	// error wins, so a cancellation is what the reader reports.
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		_ = pw.CloseWithError(context.Cause(ctx))
	})
	go func() {
		defer close(c.done)
		_ = pw.CloseWithError(compressTo(pw, r, compression, name, modTime))
		if !stop() {
			<-cancelled // the AfterFunc goroutine started: wait for it too
		}
	}()
	return c
}

// compressTo streams r through a compressor into w and finishes the stream.
func compressTo(w io.Writer, r io.Reader, compression, name string, modTime time.Time) error {
	bw := bufio.NewWriterSize(w, pipeBufferSize)
	cw, err := NewWriter(bw, compression, name, modTime)
	if err != nil {
		return err
	}
	buf := make([]byte, copyBufferSize)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := cw.Write(buf[:n]); err != nil {
				_ = cw.Close() // returns the compressor to its pool
				return fmt.Errorf("encode: %s: %w", compression, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			_ = cw.Close()
			return fmt.Errorf("encode: read source: %w", rerr)
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode: %s: %w", compression, err)
	}
	return nil
}

// compressReader is the read side of Compress's pipe; it owns the goroutine.
type compressReader struct {
	pr   *io.PipeReader
	done chan struct{} // closed when the goroutine has returned
}

func (c *compressReader) Read(p []byte) (int, error) { return c.pr.Read(p) }

// Close stops the compression and waits for its goroutine to exit.
func (c *compressReader) Close() error {
	_ = c.pr.CloseWithError(errReaderClosed)
	<-c.done
	return nil
}

// ctxReader passes r through, failing reads once ctx is done or it is closed.
type ctxReader struct {
	ctx    context.Context
	r      io.Reader
	closed bool
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.closed {
		return 0, errReaderClosed
	}
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

// Close makes further reads fail; it does not close r.
func (c *ctxReader) Close() error {
	c.closed = true
	return nil
}
