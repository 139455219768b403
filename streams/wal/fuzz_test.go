package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// validSegment encodes payloads as a segment starting at base.
func validSegment(base uint64, payloads ...[]byte) []byte {
	var b []byte
	for i, p := range payloads {
		b = appendFrame(b, base+uint64(i), p)
	}
	return b
}

// FuzzScanSegment feeds arbitrary bytes as a segment file: the scan never
// panics, every recovered entry has a valid frame, and Open recovers
// exactly the scanned prefix.
func FuzzScanSegment(f *testing.F) {
	f.Add([]byte{}, uint64(0))
	f.Add(validSegment(0, []byte("hello"), []byte(""), []byte("world")), uint64(0))
	f.Add(validSegment(7, []byte("hello"), []byte("world"))[:30], uint64(7))
	f.Add(bytes.Repeat([]byte{0xff}, 40), uint64(1))
	f.Add(append(validSegment(3, []byte("abc")), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, base uint64) {
		base %= 1 << 60 // leave room for seqs to grow
		res, err := scanSegment(bytes.NewReader(data), int64(len(data)), base)
		require.NoError(t, err)
		require.LessOrEqual(t, res.valid, int64(len(data)))
		require.Equal(t, res.valid < int64(len(data)), res.err != nil)
		if res.err != nil {
			require.ErrorIs(t, res.err, ErrCorrupt)
		}
		// The prefix decodes frame by frame with valid CRCs and seqs.
		var payloads [][]byte
		b := data[:res.valid]
		for seq := base; len(b) > 0; seq++ {
			p, n, err := decodeFrame(b, seq)
			require.NoError(t, err)
			payloads = append(payloads, p)
			b = b[n:]
		}
		require.Equal(t, res.next-base, uint64(len(payloads)))
		// The re-encoded prefix is byte-identical: nothing was reinterpreted.
		require.True(t, bytes.Equal(data[:res.valid], validSegment(base, payloads...)))

		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(base)), data, 0o644))
		l, err := Open(dir, Options{NoSync: true})
		require.NoError(t, err)
		defer l.Close()
		require.Equal(t, res.next, l.NextSeq())
		if len(payloads) > 0 {
			got := readN(t, l, base, len(payloads), 1<<20)
			for i, e := range got {
				require.True(t, bytes.Equal(payloads[i], e.Data))
			}
		}
	})
}

// FuzzRecoverPrefix damages a valid segment (truncation and one flipped
// byte) and checks that what survives is a prefix of the original entries.
func FuzzRecoverPrefix(f *testing.F) {
	f.Add([]byte("a,bb,,ccc,dddd"), uint16(20), uint16(3), byte(1))
	f.Add([]byte("x"), uint16(0), uint16(0), byte(0))
	f.Add([]byte("one,two,three"), uint16(1000), uint16(40), byte(0x80))
	f.Fuzz(func(t *testing.T, spec []byte, cut, flipAt uint16, flip byte) {
		orig := bytes.Split(spec, []byte(","))
		seg := validSegment(0, orig...)
		seg = seg[:min(int(cut), len(seg))]
		if len(seg) > 0 {
			seg[int(flipAt)%len(seg)] ^= flip
		}
		res, err := scanSegment(bytes.NewReader(seg), int64(len(seg)), 0)
		require.NoError(t, err)
		b := seg[:res.valid]
		for i := uint64(0); i < res.next; i++ {
			p, n, err := decodeFrame(b, i)
			require.NoError(t, err)
			if !bytes.Equal(p, orig[i]) {
				// Only possible if the flip hit payload and CRC consistently,
				// which a single flipped byte cannot do.
				t.Fatalf("entry %d = %q, want %q", i, p, orig[i])
			}
			b = b[n:]
		}
		if res.err != nil && !errors.Is(res.err, ErrCorrupt) {
			t.Fatalf("unexpected scan error %v", res.err)
		}
	})
}
