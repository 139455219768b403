package streams

import (
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/internal/hashkey"
	"github.com/hydrant-io/hydrant/streams/record"
)

func TestStream_AppendRoutesAndReads(t *testing.T) {
	s := openTest(t, Options{Dir: t.TempDir(), Name: "events", Shards: 4, NoSync: true})
	in := recs(200, keyN)
	require.NoError(t, s.Append(t.Context(), in))
	shards := s.Shards()
	perShard := map[record.ShardID][]record.Record{}
	ids := map[string]bool{}
	for i, r := range in {
		require.Equal(t, refShard(t, shards, r.Key), r.Shard, "record %d", i)
		require.False(t, r.Arrived.IsZero())
		require.False(t, ids[r.ID], "duplicate id")
		ids[r.ID] = true
		perShard[r.Shard] = append(perShard[r.Shard], r)
	}
	require.Len(t, perShard, 4, "200 keys should hit every shard")
	for id, want := range perShard {
		got := readAll(t, s, id, 0, len(want))
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, uint64(i), got[i].Seq)
			require.Equal(t, want[i].Seq, got[i].Seq)
			require.Equal(t, want[i].ID, got[i].ID)
			require.Equal(t, want[i].Key, got[i].Key)
			require.Equal(t, want[i].Data, got[i].Data)
			require.Equal(t, want[i].Arrived.UnixMilli(), got[i].Arrived.UnixMilli())
			require.Equal(t, id, got[i].Shard)
		}
	}
}

func TestStream_EmptyKeySpreadsOverOpenShards(t *testing.T) {
	s := openTest(t, Options{Dir: t.TempDir(), Name: "events", Shards: 3, NoSync: true})
	in := recs(300, func(int) string { return "" })
	require.NoError(t, s.Append(t.Context(), in))
	seen := map[record.ShardID]int{}
	for _, r := range in {
		seen[r.Shard]++
	}
	require.Len(t, seen, 3)
}

func TestStream_PersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	opts.Shards = 2
	s, err := Open(t.Context(), opts)
	require.NoError(t, err)
	first := recs(50, keyN)
	require.NoError(t, s.Append(t.Context(), first))
	require.NoError(t, s.Split(t.Context(), "shardId-000000000000", big.NewInt(1<<40)))
	id0 := s.ID()
	var last record.Record
	for _, r := range first {
		if r.Shard == "shardId-000000000001" {
			last = r
		}
	}
	require.NoError(t, s.Commit(t.Context(), "lake", last.Shard, last.Seq))
	before := s.Shards()
	require.NoError(t, s.Close())

	opts.Shards = 8 // ignored: the map on disk wins
	s = openTest(t, opts)
	require.Equal(t, id0, s.ID())
	require.Equal(t, before, s.Shards())
	require.Equal(t, last.Seq, s.Checkpoint("lake", last.Shard))
	require.Equal(t, uint64(0), s.Checkpoint("search", last.Shard))
	more := []record.Record{{Key: last.Key, Data: []byte("again")}}
	require.NoError(t, s.Append(t.Context(), more))
	require.Equal(t, last.Shard, more[0].Shard)
	var n uint64
	for _, sh := range before {
		if sh.ID == last.Shard {
			n = sh.NextSeq
		}
	}
	require.Equal(t, n, more[0].Seq, "sequence numbers continue")
}

func TestStream_RecreatedDirGivesNewIDs(t *testing.T) {
	clk := &fakeClock{t: testTime}
	a := openTest(t, Options{Dir: t.TempDir(), Name: "events", NoSync: true, Now: clk.Now})
	clk.t = clk.t.Add(1)
	b := openTest(t, Options{Dir: t.TempDir(), Name: "events", NoSync: true, Now: clk.Now})
	ra, rb := recs(1, keyN), recs(1, keyN)
	require.NoError(t, a.Append(t.Context(), ra))
	require.NoError(t, b.Append(t.Context(), rb))
	require.Equal(t, ra[0].Seq, rb[0].Seq)
	require.NotEqual(t, ra[0].ID, rb[0].ID)
}

func TestStream_SplitAndMerge(t *testing.T) {
	s := openTest(t, Options{Dir: t.TempDir(), Name: "events", Shards: 2, NoSync: true})
	changed := s.ShardsChanged()
	before := recs(100, keyN)
	require.NoError(t, s.Append(t.Context(), before))

	// Split shard 0 in the middle of its range.
	mid := new(big.Int).Lsh(big.NewInt(1), 126)
	require.NoError(t, s.Split(t.Context(), "shardId-000000000000", mid))
	<-changed
	sh := s.Shards()
	require.Len(t, sh, 4)
	require.True(t, sh[0].Closed)
	require.Equal(t, ShardInfo{ID: "shardId-000000000002", Index: 2, StartingHashKey: "0",
		EndingHashKey: new(big.Int).Sub(mid, big.NewInt(1)).String(), ParentShardID: "shardId-000000000000"},
		ShardInfo{ID: sh[2].ID, Index: sh[2].Index, StartingHashKey: sh[2].StartingHashKey,
			EndingHashKey: sh[2].EndingHashKey, ParentShardID: sh[2].ParentShardID})
	require.Equal(t, mid.String(), sh[3].StartingHashKey)
	require.Equal(t, sh[0].EndingHashKey, sh[3].EndingHashKey)

	after := recs(100, keyN)
	require.NoError(t, s.Append(t.Context(), after))
	for _, r := range after {
		require.Equal(t, refShard(t, sh, r.Key), r.Shard)
		require.NotEqual(t, record.ShardID("shardId-000000000000"), r.Shard)
	}

	// The closed parent still yields its records, then ErrShardEnded.
	var inParent int
	for _, r := range before {
		if r.Shard == "shardId-000000000000" {
			inParent++
		}
	}
	got := readAll(t, s, "shardId-000000000000", 0, inParent)
	require.Len(t, got, inParent)
	r, err := s.NewReader("shardId-000000000000", uint64(inParent))
	require.NoError(t, err)
	_, err = r.Next(t.Context(), 1<<20)
	require.ErrorIs(t, err, ErrShardEnded)
	require.NoError(t, r.Close())

	// Merge the two children back, then the result with shard 1.
	require.NoError(t, s.Merge(t.Context(), "shardId-000000000003", "shardId-000000000002"))
	require.NoError(t, s.Merge(t.Context(), "shardId-000000000001", "shardId-000000000004"))
	sh = s.Shards()
	require.Len(t, sh, 6)
	last := sh[5]
	require.False(t, last.Closed)
	require.Equal(t, "0", last.StartingHashKey)
	require.Equal(t, hashkey.Max.String(), last.EndingHashKey)
	require.Equal(t, record.ShardID("shardId-000000000001"), last.ParentShardID)
	require.Equal(t, record.ShardID("shardId-000000000004"), last.AdjacentParentShardID)
	final := recs(10, keyN)
	require.NoError(t, s.Append(t.Context(), final))
	for _, r := range final {
		require.Equal(t, last.ID, r.Shard)
	}
	require.Len(t, readAll(t, s, last.ID, 0, 10), 10)
}

func TestStream_ReshardValidation(t *testing.T) {
	s := openTest(t, Options{Dir: t.TempDir(), Name: "events", Shards: 3, NoSync: true})
	sh := s.Shards()
	start0, _ := new(big.Int).SetString(sh[0].StartingHashKey, 10)
	end0, _ := new(big.Int).SetString(sh[0].EndingHashKey, 10)
	plus := func(b *big.Int, d int64) *big.Int { return new(big.Int).Add(b, big.NewInt(d)) }
	splits := []struct {
		name  string
		shard record.ShardID
		key   *big.Int
		err   error
	}{
		{"key equals start+1", sh[0].ID, plus(start0, 1), ErrInvalidArgument},
		{"key equals end", sh[0].ID, end0, ErrInvalidArgument},
		{"key beyond range", sh[0].ID, plus(end0, 5), ErrInvalidArgument},
		{"negative", sh[0].ID, big.NewInt(-1), ErrInvalidArgument},
		{"unknown shard", "shardId-000000000099", plus(start0, 5), ErrShardNotFound},
		{"valid start+2", sh[0].ID, plus(start0, 2), nil},
		{"closed shard", sh[0].ID, plus(start0, 5), ErrInvalidArgument},
	}
	for _, tc := range splits {
		t.Run("split "+tc.name, func(t *testing.T) {
			err := s.Split(t.Context(), tc.shard, tc.key)
			if tc.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.err)
			}
		})
	}
	// Now open: 1, 2 (initial), 3 [0, start0+1], 4 [start0+2, end0].
	merges := []struct {
		name string
		a, b record.ShardID
		err  error
	}{
		{"not adjacent", "shardId-000000000003", "shardId-000000000001", ErrInvalidArgument},
		{"same shard", "shardId-000000000003", "shardId-000000000003", ErrInvalidArgument},
		{"closed", "shardId-000000000000", "shardId-000000000001", ErrInvalidArgument},
		{"unknown", "shardId-000000000002", "shardId-000000000042", ErrShardNotFound},
		{"adjacent reversed order", "shardId-000000000001", "shardId-000000000004", nil},
	}
	for _, tc := range merges {
		t.Run("merge "+tc.name, func(t *testing.T) {
			err := s.Merge(t.Context(), tc.a, tc.b)
			if tc.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.err)
			}
		})
	}
	require.NoError(t, s.smap.validate())
}

func TestStream_ReaderBlocksUntilShardCloses(t *testing.T) {
	s := openTest(t, Options{Dir: t.TempDir(), Name: "events", NoSync: true})
	r, err := s.NewReader("shardId-000000000000", 0)
	require.NoError(t, err)
	defer func() { require.NoError(t, r.Close()) }()
	errc := make(chan error, 1)
	go func() {
		_, err := r.Next(t.Context(), 1<<20)
		errc <- err
	}()
	require.NoError(t, s.Split(t.Context(), "shardId-000000000000", big.NewInt(100)))
	require.ErrorIs(t, <-errc, ErrShardEnded)
}

func TestStream_ReaderReturnsErrClosed(t *testing.T) {
	s, err := Open(t.Context(), Options{Dir: t.TempDir(), Name: "events", NoSync: true})
	require.NoError(t, err)
	r, err := s.NewReader("shardId-000000000000", 0)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Next(t.Context(), 1<<20)
		errc <- err
	}()
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-errc, record.ErrClosed)
	require.NoError(t, r.Close())
	require.ErrorIs(t, s.Append(t.Context(), recs(1, keyN)), record.ErrClosed)
}

func TestStream_CommitRules(t *testing.T) {
	s := openTest(t, testOptions(t, t.TempDir()))
	id := record.ShardID("shardId-000000000000")
	require.NoError(t, s.Append(t.Context(), recs(10, keyN)))
	require.ErrorIs(t, s.Commit(t.Context(), "lake", id, 11), ErrBadCheckpoint)
	require.ErrorIs(t, s.Commit(t.Context(), "nobody", id, 1), ErrUnknownConsumer)
	require.ErrorIs(t, s.Commit(t.Context(), "lake", "shardId-000000000009", 1), ErrShardNotFound)
	require.NoError(t, s.Commit(t.Context(), "lake", id, 10))
	require.Error(t, s.Commit(t.Context(), "lake", id, 5), "backwards")
	require.Equal(t, uint64(10), s.Checkpoint("lake", id))
}

func TestStream_ConcurrentAppend(t *testing.T) {
	s := openTest(t, Options{Dir: t.TempDir(), Name: "events", Shards: 3, NoSync: true})
	const writers, batches, per = 8, 20, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for range batches {
				rs := recs(per, func(i int) string { return keyN(w*1000 + i) })
				if err := s.Append(t.Context(), rs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// A split in the middle must not lose or misroute records.
	splitAt := s.routes.starts[1].Add1().Add1().Big()
	wg.Go(func() {
		if err := s.Split(t.Context(), "shardId-000000000001", splitAt); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var total uint64
	for _, sh := range s.Shards() {
		total += sh.NextSeq - sh.FirstSeq
		got := readAll(t, s, sh.ID, 0, int(sh.NextSeq))
		for i, r := range got {
			require.Equal(t, uint64(i), r.Seq)
		}
	}
	require.Equal(t, uint64(writers*batches*per), total)
	require.Equal(t, uint64(writers*batches*per), s.Stats().AppendedRecords)
}

func TestStream_OpenRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no dir":       {Name: "x"},
		"no name":      {Dir: t.TempDir()},
		"bad consumer": {Dir: t.TempDir(), Name: "x", Consumers: []string{"a/b"}},
		"dup consumer": {Dir: t.TempDir(), Name: "x", Consumers: []string{"a", "a"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(t.Context(), o)
			require.Error(t, err)
		})
	}
}

func TestStream_DirectoryLockedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, Name: "p", NoSync: true})
	require.NoError(t, err)
	_, err = Open(t.Context(), Options{Dir: dir, Name: "p", NoSync: true})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, s.Close())
	s, err = Open(t.Context(), Options{Dir: dir, Name: "p", NoSync: true})
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, s.Close())
}

func TestStream_CheckpointPastALostLogIsRewound(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, Name: "p", Shards: 1, Consumers: []string{"d"}, NoSync: true}
	s, err := Open(t.Context(), opts)
	require.NoError(t, err)
	recs := []record.Record{{Data: []byte("a")}, {Data: []byte("b")}, {Data: []byte("c")}}
	require.NoError(t, s.Append(t.Context(), recs))
	id := s.Shards()[0].ID
	require.NoError(t, s.Commit(t.Context(), "d", id, 3))
	require.NoError(t, s.Close())

	// The shard's log is lost (say, a damaged disk); the checkpoint is not.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "shards", string(id))))
	s, err = Open(t.Context(), opts)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, uint64(0), s.Checkpoint("d", id), "rewound to the log's end")
	fresh := []record.Record{{Data: []byte("new")}}
	require.NoError(t, s.Append(t.Context(), fresh))
	r, err := s.NewReader(id, s.Checkpoint("d", id))
	require.NoError(t, err)
	defer r.Close()
	got, err := r.Next(t.Context(), 1<<20)
	require.NoError(t, err)
	require.Equal(t, "new", string(got[0].Data), "the new record is delivered, not skipped")
}
