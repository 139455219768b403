package builtin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

func gz(t testing.TB, parts ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range parts { // one gzip member each
		w := gzip.NewWriter(&buf)
		_, err := w.Write([]byte(p))
		require.NoError(t, err)
		require.NoError(t, w.Close())
	}
	return buf.Bytes()
}

func TestDecompress(t *testing.T) {
	cwl := `{"messageType":"DATA_MESSAGE","logGroup":"g","logEvents":[{"id":"1","timestamp":1,"message":"hello"}]}`
	big := strings.Repeat("0123456789abcdef", 1<<12) // 64 KiB
	good := gz(t, cwl)
	truncated := good[:len(good)-5]
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-6] ^= 0xff
	// A trailer that claims 4 GiB-1 must not be trusted as a size hint.
	lying := append([]byte(nil), gz(t, "tiny")...)
	binary.LittleEndian.PutUint32(lying[len(lying)-4:], 0xffffffff)

	tests := []struct {
		name    string
		max     int64
		data    []byte
		want    string
		wantErr string
	}{
		{name: "cloudwatch logs payload", data: good, want: cwl},
		{name: "plain passes through", data: []byte(cwl), want: cwl},
		{name: "empty passes through", data: []byte{}, want: ""},
		{name: "one magic byte passes through", data: []byte{0x1f}, want: "\x1f"},
		{name: "empty gzip", data: gz(t, ""), want: ""},
		{name: "multi-member", data: gz(t, "ab", "cd"), want: "abcd"},
		{name: "large", data: gz(t, big), want: big},
		{name: "exactly at the limit", max: int64(len(big)), data: gz(t, big), want: big},
		{name: "one byte over the limit", max: int64(len(big)) - 1, data: gz(t, big), wantErr: "exceeds the record limit"},
		{name: "bomb", max: 1 << 20, data: gz(t, strings.Repeat("\x00", 8<<20)), wantErr: "exceeds the record limit of 1048576"},
		{name: "magic only", data: []byte{0x1f, 0x8b}, wantErr: "header"},
		{name: "bad header", data: []byte{0x1f, 0x8b, 0x07, 0, 0, 0, 0, 0, 0, 0}, wantErr: "header"},
		{name: "truncated", data: truncated, wantErr: "truncated"},
		{name: "bad checksum", data: badCRC, wantErr: "corrupt"},
		{name: "trailing garbage", data: append(gz(t, "x"), "garbage after the member"...), wantErr: "corrupt"},
		{name: "lying size trailer", data: lying, wantErr: "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewDecompress(DecompressOptions{MaxRecordBytes: tt.max})
			orig := append([]byte(nil), tt.data...)
			in := mkRecords(tt.data, []byte("next"))
			res, err := p.Process(t.Context(), in)
			require.NoError(t, err)
			requireAligned(t, in, res)
			require.True(t, bytes.Equal(orig, in[0].Data), "input untouched")
			require.Equal(t, []string{"next"}, outData(res[1]))
			if tt.wantErr != "" {
				require.Equal(t, transform.Failed, res[0].Status)
				require.ErrorIs(t, res[0].Err, ErrDecompress)
				require.ErrorContains(t, res[0].Err, tt.wantErr)
				return
			}
			require.Equal(t, transform.Ok, res[0].Status)
			require.Equal(t, []string{tt.want}, outData(res[0]))
		})
	}
}

func TestDecompressReusesReadersConcurrently(t *testing.T) {
	p := NewDecompress(DecompressOptions{})
	in := mkRecords(gz(t, "a"), gz(t, "bb"), []byte{0x1f, 0x8b, 0}, gz(t, "ccc"))
	done := make(chan []transform.Result, 4)
	for range 4 {
		go func() {
			res, err := p.Process(t.Context(), in)
			if err != nil {
				res = nil
			}
			done <- res
		}()
	}
	for range 4 {
		res := <-done
		require.Len(t, res, 4)
		require.Equal(t, []string{"a"}, outData(res[0]))
		require.Equal(t, []string{"bb"}, outData(res[1]))
		require.Equal(t, transform.Failed, res[2].Status)
		require.Equal(t, []string{"ccc"}, outData(res[3]))
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.Process(ctx, in)
	require.ErrorIs(t, err, context.Canceled)
}

// bomb is a gzip record inflating to n zero bytes.
func bomb(t testing.TB, n int) []byte {
	t.Helper()
	return gz(t, string(make([]byte, n)))
}

func okBytes(res []transform.Result) int64 {
	var n int64
	for _, r := range res {
		for _, o := range r.Out {
			n += int64(len(o.Data))
		}
	}
	return n
}

func TestDecompressBatchBudget(t *testing.T) {
	const rec = 900 << 10
	p := NewDecompress(DecompressOptions{MaxRecordBytes: 1 << 20, MaxBatchBytes: 3 << 20})
	b := bomb(t, rec)
	in := mkRecords(b, []byte("plain"), b, b, b, b, gz(t, "small"))
	res, err := p.Process(t.Context(), in)
	require.NoError(t, err)
	requireAligned(t, in, res)
	var status []transform.Status
	for _, r := range res {
		status = append(status, r.Status)
	}
	require.Equal(t, []transform.Status{transform.Ok, transform.Ok, transform.Ok, transform.Ok,
		transform.Failed, transform.Failed, transform.Ok}, status,
		"records past the budget fail; a later one that still fits is inflated")
	for _, i := range []int{4, 5} {
		require.ErrorIs(t, res[i].Err, ErrDecompress)
		require.ErrorContains(t, res[i].Err, "batch budget of 3145728 bytes")
	}
	require.LessOrEqual(t, okBytes(res), int64(3<<20)+int64(len("plain")))

	// The budget is per call: the next call starts afresh.
	res, err = p.Process(t.Context(), mkRecords(b))
	require.NoError(t, err)
	require.Equal(t, transform.Ok, res[0].Status)
}

func TestDecompressRecordBudgetNamesItsLimit(t *testing.T) {
	p := NewDecompress(DecompressOptions{MaxRecordBytes: 1 << 20, MaxBatchBytes: 8 << 20})
	res, err := p.Process(t.Context(), mkRecords(bomb(t, 2<<20)))
	require.NoError(t, err)
	require.Equal(t, transform.Failed, res[0].Status)
	require.ErrorContains(t, res[0].Err, "record limit of 1048576 bytes")
}

func TestDecompressDefaults(t *testing.T) {
	p := NewDecompress(DecompressOptions{MaxRecordBytes: -1})
	require.Equal(t, int64(DefaultMaxRecordBytes), p.maxRecord)
	require.Equal(t, int64(DefaultMaxBatchBytes), p.maxBatch)
}

// The case: 15 records of 63 MiB bombs in one call. With the
// defaults, what the call allocates stays near the batch budget instead of
// about 1 GB.
func TestDecompressBombsStayWithinTheBatchBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates 128 MiB")
	}
	b := bomb(t, 63<<20)
	in := make([]record.Record, 15)
	for i := range in {
		in[i] = record.Record{Seq: uint64(i), Data: b}
	}
	p := NewDecompress(DecompressOptions{})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := p.Process(t.Context(), in)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.LessOrEqual(t, okBytes(res), int64(DefaultMaxBatchBytes))
	failed := 0
	for _, r := range res {
		if r.Status == transform.Failed {
			failed++
		}
	}
	require.Equal(t, 13, failed, "two 63 MiB records fit in 128 MiB")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(DefaultMaxBatchBytes+DefaultMaxBatchBytes/2))
}
