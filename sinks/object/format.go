package object

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/streams/record"
)

// formatBufferSize batches the converter's output before it crosses the
// pipe, and holds a file's first bytes until a row is known to exist.
const formatBufferSize = 64 << 10

// errPutReturned stops the converter once the store stopped reading.
var errPutReturned = errors.New("object sink: store stopped reading the object")

// putConverted converts the records idx of recs into one file streamed
// into the store under key. The converter runs in a goroutine feeding
// the upload through a pipe, so only a row group or stripe is ever held
// in memory. It returns the records that failed conversion; when all of
// them fail nothing is put. The upload starts only when the converter
// emits its first bytes, which it does only once a row was written.
func (s *Sink) putConverted(ctx context.Context, key string, recs []record.Record, idx []int) (map[int]error, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	started := make(chan struct{})
	done := make(chan error, 1)
	failed := map[int]error{} // owned by the goroutine until done
	go func() {
		err := convertTo(ctx, &signalWriter{w: pw, started: started}, s.cfg.Format, recs, idx, failed)
		_ = pw.CloseWithError(err) // nil: the reader sees EOF
		done <- err
	}()
	select {
	case err := <-done:
		// Nothing reached the pipe: every record failed, or an error
		// came before the first byte.
		return failed, err
	case <-started:
	}
	err := s.store.Put(ctx, s.cfg.Bucket, key, pr)
	cancel()
	_ = pr.CloseWithError(errPutReturned) // unblocks a converter the store left
	cerr := <-done
	if err == nil && cerr != nil {
		err = cerr
	}
	return failed, err
}

// convertTo writes the file into w, recording conversion failures.
func convertTo(ctx context.Context, w io.Writer, enc *columnar.Encoder, recs []record.Record, idx []int, failed map[int]error) error {
	bw := bufio.NewWriterSize(w, formatBufferSize)
	fw := enc.NewWriter(bw)
	if err := columnar.WriteRecords(ctx, fw, recs, idx, failed); err != nil {
		return err
	}
	if fw.Rows() == 0 {
		return nil // leave the buffered header unsent: no object
	}
	if err := fw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// signalWriter closes started before its first write, telling the caller
// that there is a file to upload.
type signalWriter struct {
	w       io.Writer
	started chan struct{}
	once    bool
}

func (s *signalWriter) Write(p []byte) (int, error) {
	if !s.once {
		s.once = true
		close(s.started)
	}
	return s.w.Write(p)
}
