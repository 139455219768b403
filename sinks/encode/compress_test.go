package encode

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestCompressRoundTrip(t *testing.T) {
	input := mixed(2<<20+999, 11)
	for _, compression := range codecs {
		t.Run(compression, func(t *testing.T) {
			rc := Compress(t.Context(), bytes.NewReader(input), compression, testEntryName, testModTime)
			compressed, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			got := decodeIndependently(t, compression, compressed)
			require.True(t, bytes.Equal(input, got), "decoded %d bytes, want %d", len(got), len(input))
		})
	}
	goleak.VerifyNone(t)
}

func TestCompressSourceError(t *testing.T) {
	errSource := errors.New("stream log unreadable")
	for _, compression := range codecs {
		t.Run(compression, func(t *testing.T) {
			src := io.MultiReader(bytes.NewReader(jsonLines(300<<10, 12)), iotest.ErrReader(errSource))
			rc := Compress(t.Context(), src, compression, testEntryName, testModTime)
			_, err := io.ReadAll(rc)
			require.ErrorIs(t, err, errSource)
			require.NoError(t, rc.Close())
		})
	}
	goleak.VerifyNone(t)
}

func TestCompressWriterError(t *testing.T) {
	tests := []struct{ compression, name, wantErr string }{
		{"lz4", testEntryName, "lz4"},
		{Zip, "", "entry name"},
	}
	for _, tt := range tests {
		rc := Compress(t.Context(), bytes.NewReader([]byte("x")), tt.compression, tt.name, testModTime)
		_, err := io.ReadAll(rc)
		require.ErrorContains(t, err, tt.wantErr)
		require.NoError(t, rc.Close())
	}
	goleak.VerifyNone(t)
}

// endless is a source that never ends, like a stalled upload's input.
type endless struct{ chunk []byte }

func (e endless) Read(p []byte) (int, error) { return copy(p, e.chunk), nil }

// TestCompressStops checks that cancelling ctx or closing the reader ends the
// goroutine, including when it is blocked writing into the pipe because
// nobody reads.
func TestCompressStops(t *testing.T) {
	chunk := mixed(64<<10, 13)
	for _, compression := range codecs {
		t.Run(compression+"/cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			rc := Compress(ctx, endless{chunk}, compression, testEntryName, testModTime)
			buf := make([]byte, 4096)
			_, err := io.ReadFull(rc, buf)
			require.NoError(t, err)
			cancel() // the goroutine is now blocked on the pipe or compressing
			_, err = io.ReadAll(rc)
			require.ErrorIs(t, err, context.Canceled)
			require.NoError(t, rc.Close()) // returns only once the goroutine is gone
		})
		t.Run(compression+"/close", func(t *testing.T) {
			rc := Compress(t.Context(), endless{chunk}, compression, testEntryName, testModTime)
			buf := make([]byte, 4096)
			_, err := io.ReadFull(rc, buf)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			_, err = rc.Read(buf)
			require.Error(t, err)
		})
		t.Run(compression+"/cancelled before reading", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			rc := Compress(ctx, endless{chunk}, compression, testEntryName, testModTime)
			_, err := io.ReadAll(rc)
			require.ErrorIs(t, err, context.Canceled)
			require.NoError(t, rc.Close())
		})
	}
	goleak.VerifyNone(t)
}
