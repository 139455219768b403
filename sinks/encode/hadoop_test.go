package encode

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/stretchr/testify/require"
)

// TestHadoopBlockFitsReaderBuffer: Hadoop's reader rejects a compressed
// sub-block larger than its 256 KiB buffer, so the worst-case encoding of a
// full block must fit.
func TestHadoopBlockFitsReaderBuffer(t *testing.T) {
	require.LessOrEqual(t, s2.MaxEncodedLen(hadoopBlockSize), 256<<10)
	require.Equal(t, 218422, hadoopBlockSize)
}

// TestHadoopSnappyLayout checks block boundaries: full blocks of
// hadoopBlockSize, then the remainder, each with one sub-block, whatever the
// write sizes; incompressible input is the worst case for sub-block size.
func TestHadoopSnappyLayout(t *testing.T) {
	input := mixed(3*hadoopBlockSize+100, 21)
	for _, chunk := range []int{1, 1000, hadoopBlockSize, hadoopBlockSize + 1, len(input)} {
		if chunk == 1 {
			input := input[:hadoopBlockSize+10] // byte-at-a-time is slow under -race
			data := writeObject(t, HadoopSnappy, input, chunk)
			require.Equal(t, []uint32{hadoopBlockSize, 10}, blockLengths(t, data))
			continue
		}
		data := writeObject(t, HadoopSnappy, input, chunk)
		require.Equal(t, []uint32{hadoopBlockSize, hadoopBlockSize, hadoopBlockSize, 100}, blockLengths(t, data), "chunk %d", chunk)
		got, err := parseHadoopSnappy(data)
		require.NoError(t, err)
		require.True(t, bytes.Equal(input, got))
	}
}

// blockLengths returns each block's uncompressed length, requiring exactly one
// sub-block per block.
func blockLengths(t *testing.T, data []byte) []uint32 {
	t.Helper()
	var lens []uint32
	for len(data) > 0 {
		require.GreaterOrEqual(t, len(data), 8)
		lens = append(lens, binary.BigEndian.Uint32(data))
		clen := binary.BigEndian.Uint32(data[4:])
		require.LessOrEqual(t, int(clen), len(data)-8)
		data = data[8+clen:]
	}
	return lens
}

// FuzzHadoopSnappy round-trips arbitrary input, written in arbitrary chunk
// sizes, through the writer and the test's independent parser.
func FuzzHadoopSnappy(f *testing.F) {
	f.Add([]byte{}, uint16(1))
	f.Add([]byte("a"), uint16(1))
	f.Add([]byte(`{"id":1,"user":"user-1"}`+"\n"), uint16(7))
	f.Add(bytes.Repeat([]byte("abc"), 100_000), uint16(4096))
	f.Add(mixed(hadoopBlockSize+1, 31), uint16(65535))
	f.Add(jsonLines(3*recordSize, 32), uint16(0))
	f.Fuzz(func(t *testing.T, input []byte, chunk uint16) {
		if chunk == 0 {
			chunk = 1
		}
		data := writeObject(t, HadoopSnappy, input, int(chunk))
		got, err := parseHadoopSnappy(data)
		require.NoError(t, err)
		require.True(t, bytes.Equal(input, got), "decoded %d bytes, want %d", len(got), len(input))
	})
}
