package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeSegment builds a one-segment log with n entries and returns the
// segment bytes, the payloads and the file offset of each frame.
func writeSegment(t *testing.T, n int) (seg []byte, want [][]byte, offs []int) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, Options{NoSync: true})
	require.NoError(t, err)
	off := 0
	for i := range n {
		p := payload("t", i, 20+i*7)
		_, err := l.Append(t.Context(), p)
		require.NoError(t, err)
		want = append(want, p)
		offs = append(offs, off)
		off += frameSize(len(p))
	}
	require.NoError(t, l.Close())
	seg, err = os.ReadFile(filepath.Join(dir, segmentName(0)))
	require.NoError(t, err)
	require.Len(t, seg, off)
	return seg, want, offs
}

// reopenDamaged writes seg as the only segment of a fresh log, opens it
// and checks that exactly want survives and the next Append continues.
func reopenDamaged(t *testing.T, seg []byte, want [][]byte, repaired int) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(0)), seg, 0o644))
	l := openLog(t, dir, Options{NoSync: true})
	require.Equal(t, repaired, l.Stats().Repaired)
	require.Equal(t, uint64(len(want)), l.NextSeq())
	got := readN(t, l, 0, len(want), 1<<20)
	for i, e := range got {
		require.Equal(t, want[i], e.Data)
	}
	first, err := l.Append(t.Context(), []byte("next"))
	require.NoError(t, err)
	require.Equal(t, uint64(len(want)), first)
	got = readN(t, l, 0, len(want)+1, 1<<20)
	require.Equal(t, []byte("next"), got[len(want)].Data)
}

func TestTornTailEveryOffset(t *testing.T) {
	const n = 6
	seg, want, offs := writeSegment(t, n)
	last := offs[n-1]
	for cut := last; cut < len(seg); cut++ {
		t.Run(fmt.Sprint(cut-last), func(t *testing.T) {
			repaired := 1
			if cut == last {
				repaired = 0 // a clean frame boundary needs no repair
			}
			reopenDamaged(t, seg[:cut], want[:n-1], repaired)
		})
	}
}

// A damaged last frame has no valid frame after it: it may be a torn
// write, so it is cut like a torn tail (a copy is kept in quarantine).
// Damage with valid frames after it is TestDamagedFrameIsSkipped.
func TestCorruptLastFrameIsCut(t *testing.T) {
	const n = 6
	seg, want, offs := writeSegment(t, n)
	tests := []struct {
		name  string
		entry int // damaged entry: it and all after it are cut
	}{
		{"last", n - 1},
	}
	for _, tt := range tests {
		start := offs[tt.entry]
		end := len(seg)
		if tt.entry+1 < n {
			end = offs[tt.entry+1]
		}
		// Every byte of the frame: length, CRC, seq and payload.
		for at := start; at < end; at++ {
			t.Run(fmt.Sprintf("%s/%d", tt.name, at-start), func(t *testing.T) {
				bad := bytes.Clone(seg)
				bad[at] ^= 0x40
				reopenDamaged(t, bad, want[:tt.entry], 1)
			})
		}
	}
}

func TestGarbageLengthIsBounded(t *testing.T) {
	seg, want, offs := writeSegment(t, 3)
	bad := bytes.Clone(seg)
	copy(bad[offs[2]:], []byte{0xff, 0xff, 0xff, 0xff})
	reopenDamaged(t, bad, want[:2], 1)
}
