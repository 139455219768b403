package streams

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/internal/hashkey"
	"github.com/hydrant-io/hydrant/streams/record"
)

const shard0 = record.ShardID("shardId-000000000000")

// appendBatches appends n batches of per records, one WAL group commit each,
// so that small SegmentBytes yield many segments.
func appendBatches(t *testing.T, s *Stream, n, per int) {
	t.Helper()
	for range n {
		require.NoError(t, s.Append(t.Context(), recs(per, keyN)))
	}
}

func smallSegments(t *testing.T, dir string) Options {
	o := testOptions(t, dir)
	o.SegmentBytes = 256
	return o
}

func TestTrim_RespectsSlowestConsumer(t *testing.T) {
	budget := NewBudget(0)
	o := smallSegments(t, t.TempDir())
	o.Budget = budget
	s := openTest(t, o)
	appendBatches(t, s, 10, 10)
	require.Greater(t, s.Stats().Segments, 3)
	require.Equal(t, s.Stats().Bytes, budget.Used())

	require.NoError(t, s.Commit(t.Context(), "lake", shard0, 100))
	require.NoError(t, s.Commit(t.Context(), "search", shard0, 25))
	require.NoError(t, s.Trim(t.Context()))
	for _, seg := range s.byID[shard0].log.Segments() {
		require.Greater(t, seg.NextSeq, uint64(25), "segment below the slowest checkpoint kept")
	}
	first := s.Shards()[0].FirstSeq
	require.Positive(t, first)
	require.LessOrEqual(t, first, uint64(25), "segment search still needs was deleted")
	require.Equal(t, s.Stats().Bytes, budget.Used())

	require.NoError(t, s.Commit(t.Context(), "search", shard0, 100))
	require.NoError(t, s.Trim(t.Context()))
	require.Equal(t, 1, s.Stats().Segments, "only the active segment remains")
	require.Equal(t, s.Stats().Bytes, budget.Used())
	require.Zero(t, s.Stats().DroppedRecords)
}

func TestTrim_RetentionDropsExpiredSegments(t *testing.T) {
	dir := t.TempDir()
	o := smallSegments(t, dir)
	o.Consumers = []string{"lake"}
	s, err := Open(t.Context(), o)
	require.NoError(t, err)
	appendBatches(t, s, 6, 10)
	segs := s.byID[shard0].log.Segments()
	require.Greater(t, len(segs), 2)
	require.NoError(t, s.Commit(t.Context(), "lake", shard0, 5))
	require.NoError(t, s.Close())

	clk := &fakeClock{t: time.Now()}
	old := clk.t.Add(-48 * time.Hour)
	expired := segs[:2] // the two oldest segments get an old mtime
	for _, seg := range expired {
		p := filepath.Join(dir, "shards", string(shard0), segmentFileName(seg.FirstSeq))
		require.NoError(t, os.Chtimes(p, old, old))
	}
	o.Now = clk.Now
	o.Retention = 24 * time.Hour
	s = openTest(t, o)
	require.NoError(t, s.Trim(t.Context()))

	wantDropped := expired[1].NextSeq - 5
	st := s.Stats()
	require.Equal(t, wantDropped, st.DroppedRecords)
	require.Equal(t, map[string]uint64{"lake": wantDropped}, st.DroppedByConsumer)
	require.Equal(t, expired[1].NextSeq, s.Checkpoint("lake", shard0))
	got := readAll(t, s, shard0, 0, 1)
	require.Equal(t, expired[1].NextSeq, got[0].Seq, "a reader behind retention resumes at the first kept record")
	require.Equal(t, uint64(60), s.Shards()[0].NextSeq)
}

func TestTrim_BudgetBackpressureThenRecovery(t *testing.T) {
	budget := NewBudget(2048)
	o := smallSegments(t, t.TempDir())
	o.Budget = budget
	s := openTest(t, o)
	var err error
	for range 100 {
		if err = s.Append(t.Context(), recs(10, keyN)); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, record.ErrBackpressure)
	next := s.Shards()[0].NextSeq
	require.ErrorIs(t, s.Append(t.Context(), recs(1, keyN)), record.ErrBackpressure)
	require.Equal(t, next, s.Shards()[0].NextSeq, "refused append wrote nothing")

	for _, c := range o.Consumers {
		require.NoError(t, s.Commit(t.Context(), c, shard0, next))
	}
	require.NoError(t, s.Trim(t.Context()))
	require.Less(t, budget.Used(), budget.Max())
	require.NoError(t, s.Append(t.Context(), recs(1, keyN)))

	require.NoError(t, s.Close())
	require.Zero(t, budget.Used(), "Close releases the stream's share")
}

func TestTrim_DrainsConsumedClosedShard(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	s := openTest(t, o)
	require.NoError(t, s.Append(t.Context(), recs(20, keyN)))
	require.NoError(t, s.Split(t.Context(), shard0, hashkey.Max.Sub1().Big()))
	require.NoError(t, s.Commit(t.Context(), "lake", shard0, 20))
	require.NoError(t, s.Trim(t.Context()))
	require.False(t, s.Shards()[0].Drained, "search has not finished the shard")

	changed := s.ShardsChanged()
	require.NoError(t, s.Commit(t.Context(), "search", shard0, 20))
	require.NoError(t, s.Trim(t.Context()))
	<-changed
	info := s.Shards()[0]
	require.True(t, info.Drained)
	require.Equal(t, uint64(20), info.NextSeq)
	require.NoDirExists(t, filepath.Join(dir, "shards", string(shard0)))
	require.Equal(t, uint64(20), s.Checkpoint("lake", shard0))
	r, err := s.NewReader(shard0, 0)
	require.NoError(t, err)
	_, err = r.Next(t.Context(), 1)
	require.ErrorIs(t, err, ErrShardEnded)
	require.NoError(t, r.Close())
	require.NoError(t, s.Close())

	s = openTest(t, o)
	require.True(t, s.Shards()[0].Drained, "drained state persists")
}

func TestTrim_RetentionDrainsExpiredClosedShard(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	o.Consumers = []string{"lake"}
	clk := &fakeClock{t: time.Now()}
	o.Now = clk.Now
	s := openTest(t, o)
	require.NoError(t, s.Append(t.Context(), recs(7, keyN)))
	require.NoError(t, s.Split(t.Context(), shard0, big2(1000)))
	clk.t = clk.t.Add(25 * time.Hour)
	require.NoError(t, s.Trim(t.Context()))
	require.True(t, s.Shards()[0].Drained)
	require.Equal(t, uint64(7), s.Stats().DroppedByConsumer["lake"])
	require.Len(t, s.Backlog("lake"), 2, "drained shards have no backlog")
}

func TestTrim_Backlog(t *testing.T) {
	s := openTest(t, testOptions(t, t.TempDir()))
	in := recs(10, keyN)
	in[3].Arrived = testTime
	require.NoError(t, s.Append(t.Context(), in))
	require.NoError(t, s.Commit(t.Context(), "lake", shard0, 3))
	b := s.Backlog("lake")
	require.Len(t, b, 1)
	require.Equal(t, uint64(7), b[0].Records)
	require.Positive(t, b[0].Bytes)
	require.Equal(t, testTime.UnixMilli(), b[0].Oldest.UnixMilli())
	require.NoError(t, s.Commit(t.Context(), "lake", shard0, 10))
	require.Equal(t, []ShardBacklog{{Shard: shard0}}, s.Backlog("lake"))
}
