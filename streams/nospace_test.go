package streams

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/streams/wal"
	"github.com/hydrant-io/hydrant/streams/wal/waltest"
)

// A full disk answers backpressure while it lasts, the stream reports the
// fault, and appends succeed again once space is back, without a reopen
// and with every acknowledged record in place.
func TestAppend_DiskFullIsBackpressureThenRecovers(t *testing.T) {
	fsys := &waltest.FullFS{}
	opts := testOptions(t, t.TempDir())
	opts.FS = fsys
	s := openTest(t, opts)
	require.NoError(t, s.Append(t.Context(), recs(3, keyN)))
	require.NoError(t, s.Fault())

	fsys.SetFull(true)
	for range 2 {
		err := s.Append(t.Context(), recs(2, keyN))
		require.ErrorIs(t, err, record.ErrBackpressure)
		require.ErrorIs(t, err, wal.ErrNoSpace)
		require.ErrorIs(t, err, syscall.ENOSPC)
	}
	require.ErrorIs(t, s.Fault(), wal.ErrNoSpace)

	fsys.SetFull(false)
	later := recs(2, keyN)
	require.NoError(t, s.Append(t.Context(), later))
	require.Equal(t, uint64(3), later[0].Seq, "seqs continue without a gap")
	require.NoError(t, s.Fault())

	sh := s.Shards()[0].ID
	r, err := s.NewReader(sh, 0)
	require.NoError(t, err)
	defer r.Close()
	var got []record.Record
	for len(got) < 5 {
		rs, err := r.Next(t.Context(), 1<<20)
		require.NoError(t, err)
		got = append(got, rs...)
	}
	require.Len(t, got, 5)
	for i, rec := range got {
		require.Equal(t, uint64(i), rec.Seq)
	}
	require.Equal(t, later[1].Data, got[4].Data)
}
