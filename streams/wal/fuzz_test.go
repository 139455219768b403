package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
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
// the scanned prefix and what the repair scan finds after it.
func FuzzScanSegment(f *testing.F) {
	f.Add([]byte{}, uint64(0))
	f.Add(validSegment(0, []byte("hello"), []byte(""), []byte("world")), uint64(0))
	f.Add(validSegment(7, []byte("hello"), []byte("world"))[:30], uint64(7))
	f.Add(bytes.Repeat([]byte{0xff}, 40), uint64(1))
	f.Add(append(validSegment(3, []byte("abc")), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), uint64(3))
	f.Add(append([]byte{9}, validSegment(4, []byte("x"), []byte("yz"))...), uint64(4))
	mid := validSegment(2, []byte("first"), []byte("second"), []byte("third"))
	mid[frameSize(5)+HeaderBytes] ^= 1
	f.Add(mid, uint64(2))
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
		// Open keeps the prefix and any valid frames resync finds after
		// damage in it.
		rr, err := scanRepair(bytes.NewReader(data), int64(len(data)), base)
		require.NoError(t, err)
		require.Equal(t, rr.next, l.NextSeq())
		lost := uint64(0)
		for _, d := range rr.damage {
			lost += d.next - d.want
		}
		require.Equal(t, uint64(len(rr.damage)), l.Stats().CorruptFrames)
		got := readAll(t, l, base)
		require.Len(t, got, int(rr.next-base-lost))
		for i, p := range payloads {
			require.Equal(t, base+uint64(i), got[i].Seq)
			require.True(t, bytes.Equal(p, got[i].Data))
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

// FuzzResync damages one byte of a valid segment and checks the repair
// scan at Open: no frame is invented or reinterpreted, every frame but the
// damaged one survives with its seq, unless it was the last frame (a torn
// tail, cut). Payloads are lowercase letters, so no frame header can hide
// inside one (its length would exceed MaxEntryBytes).
func FuzzResync(f *testing.F) {
	f.Add([]byte("a,bb,,ccc,dddd"), uint16(3), byte(1))
	f.Add([]byte("one,two,three"), uint16(40), byte(0x80))
	f.Add([]byte(",,,,"), uint16(17), byte(0xff))
	f.Fuzz(func(t *testing.T, spec []byte, flipAt uint16, flip byte) {
		for i, c := range spec {
			if c != ',' {
				spec[i] = 'a' + c%26
			}
		}
		orig := bytes.Split(spec, []byte(","))
		var offs []int
		seg := []byte{}
		for i, p := range orig {
			offs = append(offs, len(seg))
			seg = appendFrame(seg, 5+uint64(i), p)
		}
		at := int(flipAt) % len(seg)
		if flip == 0 {
			flip = 1
		}
		seg[at] ^= flip
		hit := sort.SearchInts(offs, at+1) - 1
		res, err := scanRepair(bytes.NewReader(seg), int64(len(seg)), 5)
		require.NoError(t, err)
		last := hit == len(orig)-1
		require.Equal(t, last, res.valid < int64(len(seg)))
		if last {
			require.Empty(t, res.damage)
			require.Equal(t, int64(offs[hit]), res.valid)
			require.Equal(t, 5+uint64(hit), res.next)
			return
		}
		require.Equal(t, []damage{{off: int64(offs[hit]), end: int64(offs[hit+1]), want: 5 + uint64(hit), next: 6 + uint64(hit), why: res.damage[0].why}}, res.damage)
		require.Equal(t, 5+uint64(len(orig)), res.next)
		require.Equal(t, int64(len(seg)), res.valid)
	})
}
