package ingest

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/streams/wal"
)

// A full disk is weather: the error streams.Append returns for it (the WAL's
// ErrNoSpace wrapped with record.ErrBackpressure) answers 503
// ServiceUnavailableException with Retry-After at every door, never 500.
func TestDiskFull_Answers503WithRetryAfter(t *testing.T) {
	diskFull := fmt.Errorf("append to logs: shard shardId-000000000000: %w (%w)",
		fmt.Errorf("%w: wal: write segment x: %w", wal.ErrNoSpace, syscall.ENOSPC), record.ErrBackpressure)

	t.Run("firehose", func(t *testing.T) {
		f := newFake("logs")
		f.err = diskFull
		w := firehoseCall(t, newTestServer(t, f, nil).Handler(), api.OpPutRecordBatch, batchBody("logs", []byte("x")))
		requireError(t, w, 503, api.ErrServiceUnavailable)
		require.Equal(t, "1", w.Header().Get("Retry-After"))
		require.Empty(t, f.stored("logs"))
	})
	t.Run("plain", func(t *testing.T) {
		f := newFake("logs")
		f.err = diskFull
		w := plainCall(t, newTestServer(t, f, nil).Handler(), plainReq{body: []byte("1")})
		requireError(t, w, 503, api.ErrServiceUnavailable)
		require.Equal(t, "1", w.Header().Get("Retry-After"))
	})
	t.Run("receiver", func(t *testing.T) {
		f := newFake("logs")
		f.err = diskFull
		code, _ := receiverCall(t, newTestServer(t, f, nil).Handler(), "logs", receiverBody("x"), nil)
		require.Equal(t, 503, code)
	})
}
