package encode

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// codecs lists every compression the sinks accept.
var codecs = []string{None, Gzip, Zip, Snappy, HadoopSnappy, Zstd}

var testModTime = time.Date(2026, 1, 15, 10, 30, 42, 0, time.UTC)

const testEntryName = "clicks-1-2026-01-15-10-30-42-0b4e0a0e-8f5c-4f0e-9a43-6d2f0c2b8a11"

func TestExtensionAndValid(t *testing.T) {
	tests := []struct {
		compression string
		want        string
		wantErr     bool
	}{
		{"", "", false},
		{None, "", false},
		{Gzip, ".gz", false},
		{Zip, ".zip", false},
		{Snappy, ".snappy", false},
		{HadoopSnappy, ".hsnappy", false},
		{Zstd, ".zst", false},
		{"GZIP", "", true},
		{"lz4", "", true},
		{"uncompressed", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.compression, func(t *testing.T) {
			ext, err := Extension(tt.compression)
			if tt.wantErr {
				require.Error(t, err)
				require.Error(t, Valid(tt.compression))
				_, err := NewWriter(io.Discard, tt.compression, "x", testModTime)
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, Valid(tt.compression))
			require.Equal(t, tt.want, ext)
		})
	}
}

// decodeIndependently decompresses data with a tool or library that shares no
// code with the writers: the gzip, unzip and zstd CLIs, golang/snappy's framing
// reader, and a Hadoop-snappy parser written in this test over
// golang/snappy.Decode (the writer encodes with klauspost's s2).
func decodeIndependently(t *testing.T, compression string, data []byte) []byte {
	t.Helper()
	switch compression {
	case None:
		return data
	case Gzip:
		return runCLI(t, "gzip", data, ".gz", "gzip", "-dc")
	case Zip:
		return runCLI(t, "unzip", data, ".zip", "unzip", "-p")
	case Zstd:
		return runCLI(t, "zstd", data, ".zst", "zstd", "-dcq")
	case Snappy:
		out, err := io.ReadAll(snappy.NewReader(bytes.NewReader(data)))
		require.NoError(t, err, "golang/snappy framing reader")
		return out
	case HadoopSnappy:
		out, err := parseHadoopSnappy(data)
		require.NoError(t, err)
		return out
	}
	t.Fatalf("no decoder for %q", compression)
	return nil
}

// runCLI writes data to a file with extension ext and returns the stdout of
// argv with that file appended. A missing tool fails the test, naming the
// Debian package that provides it.
func runCLI(t *testing.T, pkg string, data []byte, ext string, argv ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Fatalf("%s CLI not found (install the Debian package %q: apt-get install %s): %v", argv[0], pkg, pkg, err)
	}
	path := filepath.Join(t.TempDir(), "object"+ext)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	cmd := exec.CommandContext(t.Context(), argv[0], append(argv[1:], path)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s: %s", strings.Join(argv, " "), stderr.String())
	return out
}

// parseHadoopSnappy decodes Hadoop's block framing: per block a big-endian
// uint32 uncompressed length, then sub-blocks (big-endian uint32 compressed
// length + raw snappy block) until that many bytes were produced. It also
// enforces the limits of Hadoop's reader (256 KiB buffers).
func parseHadoopSnappy(data []byte) ([]byte, error) {
	const hadoopBuffer = 256 << 10
	var out []byte
	u32 := func() (uint32, error) {
		if len(data) < 4 {
			return 0, fmt.Errorf("truncated length: %d bytes left", len(data))
		}
		v := binary.BigEndian.Uint32(data)
		data = data[4:]
		return v, nil
	}
	for len(data) > 0 {
		want, err := u32()
		if err != nil {
			return nil, err
		}
		if want == 0 {
			return nil, errors.New("empty block")
		}
		for got := uint32(0); got < want; {
			clen, err := u32()
			if err != nil {
				return nil, err
			}
			if clen > hadoopBuffer || int(clen) > len(data) {
				return nil, fmt.Errorf("sub-block of %d bytes (%d left, reader buffer %d)", clen, len(data), hadoopBuffer)
			}
			dec, err := snappy.Decode(nil, data[:clen])
			if err != nil {
				return nil, fmt.Errorf("snappy block: %w", err)
			}
			data = data[clen:]
			if len(dec) == 0 || len(dec) > hadoopBuffer {
				return nil, fmt.Errorf("sub-block decodes to %d bytes", len(dec))
			}
			got += uint32(len(dec))
			if got > want {
				return nil, fmt.Errorf("block overruns its length %d", want)
			}
			out = append(out, dec...)
		}
	}
	return out, nil
}

// writeObject compresses input through NewWriter in writes of chunk bytes.
func writeObject(t testing.TB, compression string, input []byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, compression, testEntryName, testModTime)
	require.NoError(t, err)
	for p := input; len(p) > 0; {
		n := min(chunk, len(p))
		written, err := w.Write(p[:n])
		require.NoError(t, err)
		require.Equal(t, n, written)
		p = p[n:]
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestRoundTripIndependentDecoders(t *testing.T) {
	inputs := []struct {
		name  string
		data  []byte
		chunk int
	}{
		{"empty", nil, 1},
		{"few KiB JSON lines", jsonLines(5<<10, 1), recordSize},
		{"odd-sized writes", jsonLines(40<<10, 2), 777},
		{"MiBs random and repetitive", mixed(3<<20+12345, 3), 1 << 20},
		{"MiBs JSON lines", jsonLines(4<<20, 4), recordSize},
	}
	for _, compression := range codecs {
		for _, in := range inputs {
			t.Run(compression+"/"+in.name, func(t *testing.T) {
				compressed := writeObject(t, compression, in.data, in.chunk)
				got := decodeIndependently(t, compression, compressed)
				require.True(t, bytes.Equal(in.data, got), "decoded %d bytes, want %d", len(got), len(in.data))
			})
		}
	}
}

func TestZipEntryMetadata(t *testing.T) {
	data := writeObject(t, Zip, jsonLines(2<<10, 5), recordSize)
	// zipinfo mode with decimal times (TZ=UTC): "... defN 20260115.103042 name".
	info := string(runCLI(t, "unzip", data, ".zip", "unzip", "-Z", "-T"))
	require.Contains(t, info, "20260115.103042 "+testEntryName, info)
	require.NotContains(t, info, " 1980", info)
	require.Contains(t, info, "defN", "entry must be Deflate:\n%s", info)
	require.Contains(t, info, "1 file", info)
}

func TestZipNames(t *testing.T) {
	_, err := NewWriter(io.Discard, Zip, "", testModTime)
	require.Error(t, err)
	_, err = NewWriter(io.Discard, Zip, ".zip", testModTime)
	require.Error(t, err)

	var buf bytes.Buffer
	w, err := NewWriter(&buf, Zip, "object.zip", testModTime)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	info := string(runCLI(t, "unzip", buf.Bytes(), ".zip", "unzip", "-Z1"))
	require.Equal(t, "object\n", info, "a trailing .zip is not part of the entry name")
}

func TestGzipHeaderModTime(t *testing.T) {
	data := writeObject(t, Gzip, []byte("x\n"), 2)
	// The standard library's reader, not klauspost's.
	zr, err := stdgzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	require.True(t, testModTime.Equal(zr.ModTime), "MTIME %v", zr.ModTime)
	require.NoError(t, zr.Close())
}

func TestSnappyStartsWithStreamIdentifier(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("a"), jsonLines(200<<10, 6)} {
		data := writeObject(t, Snappy, in, 4096)
		require.True(t, bytes.HasPrefix(data, []byte("\xff\x06\x00\x00sNaPpY")), "%q", data[:min(len(data), 16)])
	}
}

func TestWriteAfterCloseAndDoubleClose(t *testing.T) {
	for _, compression := range codecs[1:] {
		t.Run(compression, func(t *testing.T) {
			w, err := NewWriter(io.Discard, compression, testEntryName, testModTime)
			require.NoError(t, err)
			_, err = w.Write([]byte("abc"))
			require.NoError(t, err)
			require.NoError(t, w.Close())
			require.NoError(t, w.Close())
			_, err = w.Write([]byte("abc"))
			require.ErrorIs(t, err, ErrClosed)
		})
	}
}

// failWriter accepts limit bytes, then fails.
type failWriter struct {
	limit int
	err   error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, f.err
	}
	f.limit -= len(p)
	return len(p), nil
}

// TestDestinationErrorAndPoolReuse checks a failing destination surfaces from
// Write or Close, and that the compressor it dirtied comes back clean from the
// pool for the next object.
func TestDestinationErrorAndPoolReuse(t *testing.T) {
	errDisk := errors.New("disk full")
	input := mixed(1<<20, 7)
	for _, compression := range codecs[1:] {
		t.Run(compression, func(t *testing.T) {
			w, err := NewWriter(&failWriter{limit: 1000, err: errDisk}, compression, testEntryName, testModTime)
			if err == nil {
				_, err = w.Write(input)
				err = errors.Join(err, w.Close())
			}
			require.ErrorIs(t, err, errDisk)

			// The next objects come from the same pools.
			for i := range 3 {
				in := jsonLines(10<<10*(i+1), uint64(i))
				got := decodeIndependently(t, compression, writeObject(t, compression, in, 1000))
				require.True(t, bytes.Equal(in, got))
			}
		})
	}
}
