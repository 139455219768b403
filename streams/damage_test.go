package streams

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/wal"
)

// Issue 11, finding 4: a corrupt byte in a sealed segment is skipped by
// readers, counted in the stream's stats (which metrics, /readyz and the
// dashboard show) and does not make the backlog's oldest age unknown.
func TestDamage_SealedSegmentIsSkippedCountedAndAgedTruly(t *testing.T) {
	dir := t.TempDir()
	o := smallSegments(t, dir)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	o.Now = clk.Now
	s := openTest(t, o)
	appendBatches(t, s, 10, 10)
	require.Greater(t, s.Stats().Segments, 2)
	require.Zero(t, s.Stats().Damage.Regions)

	// Flip a byte inside the first frame's payload of the first segment.
	seg := filepath.Join(s.shardDir(shard0), segmentFileName(0))
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[20] ^= 0x40
	require.NoError(t, os.WriteFile(seg, b, 0o644))

	// Backlog reads the record at the checkpoint: damaged, so the next
	// valid one gives the age, never the zero time.
	bl := s.Backlog("lake")
	require.Len(t, bl, 1)
	require.Equal(t, uint64(100), bl[0].Records)
	require.Equal(t, clk.t.UnixMilli(), bl[0].Oldest.UnixMilli())

	got := readAll(t, s, shard0, 0, 99)
	require.Len(t, got, 99)
	require.Equal(t, "record-1", string(got[0].Data))

	d := s.Stats().Damage
	require.Equal(t, uint64(1), d.Regions)
	require.Equal(t, uint64(1), d.LostRecords)
	require.NotNil(t, d.Last)
	require.Equal(t, shard0, d.Last.Shard)
	require.Equal(t, segmentFileName(0), d.Last.Segment)
	require.Equal(t, filepath.Join(s.shardDir(shard0), wal.QuarantineDir), d.Last.Quarantine)
	require.NotEmpty(t, d.Last.Reason)
}
