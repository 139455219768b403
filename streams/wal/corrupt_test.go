package wal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// quarantined returns the files of dir's quarantine folder by name.
func quarantined(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(filepath.Join(dir, QuarantineDir))
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, QuarantineDir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = b
	}
	return out
}

// readAll reads every entry from seq from until the reader is caught up.
func readAll(t *testing.T, l *Log, from uint64) []Entry {
	t.Helper()
	r := l.NewReader(from)
	defer r.Close()
	var out []Entry
	for {
		ctx, cancel := context.WithCancel(t.Context())
		if len(out) > 0 || l.SyncedSeq() <= r.Pos() {
			cancel() // nothing may block: everything is synced
		}
		ents, err := r.Next(ctx, 1<<20)
		cancel()
		if err == context.Canceled {
			return out
		}
		require.NoError(t, err)
		require.NotEmpty(t, ents)
		for _, e := range ents {
			out = append(out, Entry{Seq: e.Seq, Data: bytes.Clone(e.Data)})
		}
	}
}

// Issue 11, finding 5: a bad byte in frame 2 of 5 of the active segment
// must not destroy frames 3-5.
func TestDamagedFrameIsSkipped(t *testing.T) {
	const n = 5
	seg, want, offs := writeSegment(t, n)
	for _, entry := range []int{0, 1, 3} {
		start, end := offs[entry], offs[entry+1]
		for at := start; at < end; at++ {
			t.Run(fmt.Sprintf("entry%d/byte%d", entry, at-start), func(t *testing.T) {
				bad := bytes.Clone(seg)
				bad[at] ^= 0x40
				dir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(0)), bad, 0o644))
				l := openLog(t, dir, Options{NoSync: true})
				st := l.Stats()
				require.Equal(t, 0, st.Repaired)
				require.Equal(t, uint64(1), st.CorruptFrames)
				require.Equal(t, uint64(1), st.LostSeqs)
				require.Equal(t, uint64(end-start), st.QuarantinedBytes)
				d := st.LastDamage
				require.Equal(t, segmentName(0), d.Segment)
				require.Equal(t, int64(start), d.Offset)
				require.Equal(t, int64(end-start), d.Bytes)
				require.Equal(t, uint64(entry), d.FirstLostSeq)
				require.Equal(t, uint64(1), d.LostSeqs)
				require.NotEmpty(t, d.Reason)
				require.False(t, d.At.IsZero())
				require.Equal(t, uint64(n), l.NextSeq())
				// The file is untouched: nothing acknowledged is destroyed.
				onDisk, err := os.ReadFile(filepath.Join(dir, segmentName(0)))
				require.NoError(t, err)
				require.Equal(t, bad, onDisk)
				require.Equal(t, map[string][]byte{
					fmt.Sprintf("%020d-%d.bin", 0, start): bad[start:end],
				}, quarantined(t, dir))

				got := readAll(t, l, 0)
				require.Len(t, got, n-1)
				k := 0
				for i := range n {
					if i == entry {
						continue
					}
					require.Equal(t, uint64(i), got[k].Seq)
					require.Equal(t, want[i], got[k].Data)
					k++
				}
				// A reader placed on the lost seq starts at the next one.
				r := l.NewReader(uint64(entry))
				ents, err := r.Next(t.Context(), 1<<20)
				require.NoError(t, err)
				require.Equal(t, uint64(entry+1), ents[0].Seq)
				require.NoError(t, r.Close())
				// Readers hitting the damage again do not count it again.
				require.Equal(t, uint64(1), l.Stats().CorruptFrames)

				first, err := l.Append(t.Context(), []byte("next"))
				require.NoError(t, err)
				require.Equal(t, uint64(n), first)
				got = readAll(t, l, 0)
				require.Len(t, got, n)
				require.Equal(t, Entry{Seq: n, Data: []byte("next")}, got[n-1])
			})
		}
	}
}

func TestDamagedTailIsCutAndKept(t *testing.T) {
	const n = 5
	seg, want, offs := writeSegment(t, n)
	bad := bytes.Clone(seg)
	bad[offs[n-1]+HeaderBytes+2] ^= 1
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(0)), bad, 0o644))
	l := openLog(t, dir, Options{NoSync: true})
	st := l.Stats()
	require.Equal(t, 1, st.Repaired)
	require.Zero(t, st.CorruptFrames)
	require.Equal(t, uint64(len(seg)-offs[n-1]), st.QuarantinedBytes)
	require.Equal(t, map[string][]byte{
		fmt.Sprintf("%020d-%d.tail", 0, offs[n-1]): bad[offs[n-1]:],
	}, quarantined(t, dir))
	got := readAll(t, l, 0)
	require.Len(t, got, n-1)
	for i, e := range got {
		require.Equal(t, want[i], e.Data)
	}
}

// sealedLog writes n entries in one batch to segment 0 and one more entry
// to segment n, closes the log and returns the dir, payloads and frame
// offsets of segment 0.
func sealedLog(t *testing.T, n int) (dir string, want [][]byte, offs []int) {
	t.Helper()
	dir = t.TempDir()
	l, err := Open(dir, Options{NoSync: true, SegmentBytes: 1})
	require.NoError(t, err)
	off := 0
	for i := range n {
		want = append(want, payload("s", i, 30+i))
		offs = append(offs, off)
		off += frameSize(len(want[i]))
	}
	_, err = l.Append(t.Context(), want...)
	require.NoError(t, err)
	want = append(want, []byte("active"))
	_, err = l.Append(t.Context(), want[n])
	require.NoError(t, err)
	require.Len(t, l.Segments(), 2)
	require.NoError(t, l.Close())
	return dir, want, append(offs, off)
}

// Issue 11, finding 4: a corrupt byte in a sealed segment must not stop
// readers forever.
func TestSealedSegmentDamageIsSkipped(t *testing.T) {
	const n = 5
	for _, entry := range []int{0, 2, n - 1} {
		t.Run(fmt.Sprint(entry), func(t *testing.T) {
			dir, want, offs := sealedLog(t, n)
			p := filepath.Join(dir, segmentName(0))
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[offs[entry]+5] ^= 0x10 // in the CRC
			require.NoError(t, os.WriteFile(p, b, 0o644))

			l := openLog(t, dir, Options{NoSync: true})
			for range 2 { // a second reader does not count again
				got := readAll(t, l, 0)
				require.Len(t, got, n)
				k := 0
				for i := range n + 1 {
					if i == entry {
						continue
					}
					require.Equal(t, Entry{Seq: uint64(i), Data: want[i]}, got[k])
					k++
				}
				st := l.Stats()
				require.Equal(t, uint64(1), st.CorruptFrames)
				require.Equal(t, uint64(1), st.LostSeqs)
				require.Equal(t, uint64(offs[entry+1]-offs[entry]), st.QuarantinedBytes)
			}
			require.Equal(t, map[string][]byte{
				fmt.Sprintf("%020d-%d.bin", 0, offs[entry]): b[offs[entry]:offs[entry+1]],
			}, quarantined(t, dir))
		})
	}
}

func TestResyncRule(t *testing.T) {
	seg := validSegment(10, []byte("aaaa"), []byte("bbbbbbbb"), []byte("cc"))
	f2 := frameSize(4)
	f3 := f2 + frameSize(8)
	bad := bytes.Clone(seg)
	bad[2] ^= 1
	off, seq, ok, err := resync(bytes.NewReader(bad), 0, int64(len(bad)), 10, 1<<62)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(f2), off)
	require.Equal(t, uint64(11), seq)
	// A seq below the expected one is stale, not a continuation.
	_, _, ok, err = resync(bytes.NewReader(bad), 0, int64(len(bad)), 13, 1<<62)
	require.NoError(t, err)
	require.False(t, ok)
	// More missing seqs than the damaged bytes could have held is no match.
	_, _, ok, err = resync(bytes.NewReader(seg[f2:]), 0, int64(len(seg)-f2), 0, 1<<62)
	require.NoError(t, err)
	require.False(t, ok)
	// Seqs at or beyond the segment's end are no match.
	off, _, ok, err = resync(bytes.NewReader(bad), 0, int64(len(bad)), 10, 12)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(f2), off)
	bad[f2+3] ^= 1
	_, _, ok, err = resync(bytes.NewReader(bad), 0, int64(len(bad)), 10, 12)
	require.NoError(t, err)
	require.False(t, ok)
	off, seq, ok, err = resync(bytes.NewReader(bad), 0, int64(len(bad)), 10, 13)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(f3), off)
	require.Equal(t, uint64(12), seq)
}
