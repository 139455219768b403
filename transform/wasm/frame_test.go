package wasm

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// testRecords returns n records of size bytes with distinct ids.
func testRecords(n, size int) []record.Record {
	in := make([]record.Record, n)
	for i := range in {
		in[i] = record.Record{
			ID:      record.NewID(1, 0, uint64(i)),
			Key:     fmt.Sprintf("pk-%d", i),
			Data:    []byte(strings.Repeat("d", size)),
			Arrived: time.UnixMilli(1_700_000_000_000 + int64(i)),
			Shard:   "shardId-000000000000",
			Seq:     uint64(i),
		}
	}
	return in
}

// verdict is one output entry for encodeOutput.
type verdict struct {
	status  byte
	id      string
	payload string
	keys    []string // k, v, k, v...
}

// encodeOutput is an independent writer of output frames, for tests.
func encodeOutput(vs []verdict) []byte {
	le := binary.LittleEndian
	str := func(b []byte, s string) []byte { return append(le.AppendUint32(b, uint32(len(s))), s...) }
	b := le.AppendUint32([]byte(magicOut), ABIVersion)
	b = le.AppendUint32(b, uint32(len(vs)))
	for _, v := range vs {
		b = append(b, v.status)
		b = str(b, v.id)
		b = str(b, v.payload)
		b = le.AppendUint32(b, uint32(len(v.keys)/2))
		for _, k := range v.keys {
			b = str(b, k)
		}
	}
	return b
}

func TestEncodeInputLayout(t *testing.T) {
	in := []record.Record{{ID: "ab", Key: "k", Shard: "s", Seq: 0x0102, Arrived: time.UnixMilli(5), Data: []byte("xyz")}}
	ids, _ := transform.RecordIDs(in)
	buf := make([]byte, inputSize(in, ids))
	encodeInput(buf, in, ids)
	want := "HYDI" + "\x01\x00\x00\x00" + "\x01\x00\x00\x00" +
		"\x02\x00\x00\x00ab" + "\x05\x00\x00\x00\x00\x00\x00\x00" + "\x01\x00\x00\x00k" +
		"\x01\x00\x00\x00s" + "\x02\x01\x00\x00\x00\x00\x00\x00" + "\x03\x00\x00\x00xyz"
	require.Equal(t, []byte(want), buf)
}

func TestDecodeOutput(t *testing.T) {
	in := testRecords(3, 4)
	in[1].Meta = map[string]string{"query.a": "1"}
	frame := encodeOutput([]verdict{
		{statusFailed, in[2].ID, "nope", nil}, // out of order is fine
		{statusOk, in[0].ID, "new", []string{"k", "v"}},
		{statusUnchanged, in[1].ID, "", []string{"k", "v1", "k", "v2"}},
	})
	res, err := decodeOutput(frame, in, ids(in))
	require.NoError(t, err)
	require.Equal(t, transform.Ok, res[0].Status)
	require.Equal(t, "new", string(res[0].Out[0].Data))
	require.Equal(t, map[string]string{record.LambdaKey("k"): "v"}, res[0].Out[0].Meta)
	require.Equal(t, in[1].Data, res[1].Out[0].Data)
	require.Equal(t, map[string]string{"query.a": "1", record.LambdaKey("k"): "v2"}, res[1].Out[0].Meta, "the last value wins")
	require.Equal(t, transform.Failed, res[2].Status)
	require.ErrorIs(t, res[2].Err, ErrProcessingFailed)
	require.Equal(t, "nope", res[2].Err.(*FailedError).Message)
}

func TestDecodeOutputRejects(t *testing.T) {
	in := testRecords(2, 1)
	a, b := in[0].ID, in[1].ID
	tests := []struct {
		name  string
		frame []byte
		want  error
		msg   string
	}{
		{"empty", nil, ErrMalformed, "magic"},
		{"short header", []byte("HYDO\x01"), ErrMalformed, "runs past the end"},
		{"dup", encodeOutput([]verdict{{statusOk, a, "", nil}, {statusOk, a, "", nil}}), ErrRecordID, "returned twice"},
		{"too few", encodeOutput([]verdict{{statusOk, a, "", nil}}), ErrRecordID, "1 verdicts for 2 records"},
		{"unknown", encodeOutput([]verdict{{statusOk, a, "", nil}, {statusOk, "zz", "", nil}}), ErrRecordID, "unknown record id"},
		{"unchanged with data", encodeOutput([]verdict{{statusUnchanged, a, "x", nil}, {statusOk, b, "", nil}}), ErrMalformed, "Unchanged with a 1-byte payload"},
		{"dropped with data", encodeOutput([]verdict{{statusDropped, a, "x", nil}, {statusOk, b, "", nil}}), ErrMalformed, "Dropped with a 1-byte payload"},
		{"failed with keys", encodeOutput([]verdict{{statusFailed, a, "x", []string{"k", "v"}}, {statusOk, b, "", nil}}), ErrMalformed, "partition keys on a ProcessingFailed"},
		{"empty key", encodeOutput([]verdict{{statusOk, a, "", []string{"", "v"}}, {statusOk, b, "", nil}}), ErrMalformed, "empty partition key name"},
		{"batch error", append(binary.LittleEndian.AppendUint32([]byte("HYDE\x01\x00\x00\x00"), 2), "no"...), ErrBatchFailed, ": no"},
		{"batch error trailing", append(binary.LittleEndian.AppendUint32([]byte("HYDE\x01\x00\x00\x00"), 2), "no!"...), ErrMalformed, "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := decodeOutput(tt.frame, in, ids(in))
			require.ErrorIs(t, err, tt.want)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, res)
		})
	}
}

func FuzzDecodeOutput(f *testing.F) {
	in := testRecords(3, 2)
	f.Add(encodeOutput([]verdict{{statusOk, in[0].ID, "x", []string{"k", "v"}}, {statusDropped, in[1].ID, "", nil}, {statusFailed, in[2].ID, "m", nil}}))
	f.Add(encodeOutput([]verdict{{statusUnchanged, in[2].ID, "", nil}, {statusUnchanged, in[1].ID, "", nil}, {statusUnchanged, in[0].ID, "", nil}}))
	f.Add(encodeOutput([]verdict{{statusOk, in[0].ID, "", nil}, {statusOk, in[0].ID, "", nil}, {statusOk, in[2].ID, "", nil}}))
	f.Add(append(binary.LittleEndian.AppendUint32([]byte("HYDE\x01\x00\x00\x00"), 3), "bad"...))
	f.Add([]byte("HYDO\x01\x00\x00\x00\x03\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		res, err := decodeOutput(frame, in, ids(in))
		if err != nil {
			require.Nil(t, res)
			return
		}
		require.Len(t, res, len(in))
		for i, r := range res {
			switch r.Status {
			case transform.Ok:
				require.Len(t, r.Out, 1)
				require.Equal(t, in[i].ID, r.Out[0].ID)
				require.Equal(t, in[i].Seq, r.Out[0].Seq)
			case transform.Failed:
				require.ErrorIs(t, r.Err, ErrProcessingFailed)
			case transform.Dropped:
			default:
				t.Fatalf("status %d", r.Status)
			}
		}
	})
}

func TestOutputKeepsBothEnds(t *testing.T) {
	var o output
	_, _ = o.Write([]byte("fatal error: out of memory\n"))
	for range 100 {
		_, _ = o.Write([]byte(strings.Repeat("goroutine dump ", 10)))
	}
	_, _ = o.Write([]byte("the end"))
	s := o.String()
	require.True(t, strings.HasPrefix(s, "fatal error: out of memory"))
	require.True(t, strings.HasSuffix(s, "the end"))
	require.Contains(t, s, " … ")
	require.LessOrEqual(t, len(s), 2*keep+len(" … "))
	o.reset()
	require.Empty(t, o.String())
}

// ids names in's records as the processor does.
func ids(in []record.Record) []string {
	names, _ := transform.RecordIDs(in)
	return names
}

func TestEncodeInput_RepeatedIDsAreMadeUnique(t *testing.T) {
	in := testRecords(3, 1)
	in[1].ID, in[2].ID = in[0].ID, in[0].ID // sub-records of one aggregate
	names := ids(in)
	require.Equal(t, []string{in[0].ID, in[0].ID + ".1", in[0].ID + ".2"}, names)
	frame := encodeOutput([]verdict{
		{statusOk, names[2], "c", nil}, // out of order: matched by name
		{statusOk, names[0], "a", nil},
		{statusOk, names[1], "b", nil},
	})
	res, err := decodeOutput(frame, in, names)
	require.NoError(t, err)
	for i, want := range []string{"a", "b", "c"} {
		require.Equal(t, want, string(res[i].Out[0].Data))
		require.Equal(t, in[0].ID, res[i].Out[0].ID, "outputs keep the source record's ID")
	}
}
