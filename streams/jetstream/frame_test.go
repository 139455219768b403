package jetstream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/internal/codec"
	"github.com/hydrant-io/hydrant/streams/record"
)

func TestFrame_RoundTrip(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	in := []record.Record{
		{Key: "a", Data: []byte("one"), Arrived: at},
		{Data: make([]byte, 300), Arrived: at, Meta: map[string]string{"k": "v"}}, // a length needing two varint bytes
		{Key: "c", Data: nil, Arrived: at},
	}
	var body []byte
	for i := range in {
		body = appendFrame(body, &in[i])
	}
	decs, err := decodeMessage(body)
	require.NoError(t, err)
	out := codec.Records(decs)
	require.Len(t, out, len(in))
	for i := range in {
		require.Equal(t, in[i].Key, out[i].Key)
		require.Equal(t, len(in[i].Data), len(out[i].Data))
		require.Equal(t, in[i].Arrived.UnixMilli(), out[i].Arrived.UnixMilli())
		require.Equal(t, len(in[i].Meta), len(out[i].Meta))
	}
}

func TestFrame_RejectsCorrupt(t *testing.T) {
	good := appendFrame(nil, &record.Record{Key: "k", Data: []byte("data")})
	for name, b := range map[string][]byte{
		"empty":       nil,
		"version":     append([]byte{9}, good[1:]...),
		"no records":  {frameVersion},
		"truncated":   good[:len(good)-1],
		"long length": {frameVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		_, err := decodeMessage(b)
		require.Error(t, err, name)
	}
}

func TestSeq_SplitInvertsSeqOf(t *testing.T) {
	for _, c := range []struct {
		msg uint64
		i   int
	}{{1, 0}, {1, maxPerMessage - 1}, {1 << 40, 7}} {
		m, i := splitSeq(seqOf(c.msg, c.i))
		require.Equal(t, c.msg, m)
		require.Equal(t, c.i, i)
	}
	require.Less(t, seqOf(5, maxPerMessage-1), seqOf(6, 0), "sequence numbers grow across messages")
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(appendFrame(nil, &record.Record{Key: "k", Data: []byte("d")}))
	f.Add(appendFrame(appendFrame(nil, &record.Record{Data: []byte("a")}), &record.Record{Meta: map[string]string{"x": "y"}}))
	f.Add([]byte{frameVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		decs, err := decodeMessage(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to a body that decodes to the same records.
		recs := codec.Records(decs)
		var again []byte
		for i := range recs {
			again = appendFrame(again, &recs[i])
		}
		decs2, err := decodeMessage(again)
		require.NoError(t, err)
		require.Len(t, decs2, len(decs))
		for i := range decs {
			require.Equal(t, decs[i].Key, decs2[i].Key)
			require.Equal(t, decs[i].Data, decs2[i].Data)
			require.Equal(t, decs[i].ArrivedMs, decs2[i].ArrivedMs)
		}
	})
}
