package guest

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rec is one input record for frame.
type rec struct {
	id, key, shard, data string
	arrived              int64
	seq                  uint64
}

// frame encodes an input frame the way the host does (docs/wasm-abi.md).
func frame(recs ...rec) []byte {
	le := binary.LittleEndian
	str := func(b []byte, s string) []byte { return append(le.AppendUint32(b, uint32(len(s))), s...) }
	b := le.AppendUint32([]byte("HYDI"), 1)
	b = le.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		b = str(b, r.id)
		b = le.AppendUint64(b, uint64(r.arrived))
		b = str(b, r.key)
		b = str(b, r.shard)
		b = le.AppendUint64(b, r.seq)
		b = str(b, r.data)
	}
	return b
}

// verdict is a decoded output entry.
type verdict struct {
	status  Status
	id      string
	payload string
	keys    []string
}

// parse decodes an output frame: the results, or the batch error.
func parse(t *testing.T, b []byte) ([]verdict, string) {
	t.Helper()
	le := binary.LittleEndian
	p := 0
	u32 := func() uint32 { v := le.Uint32(b[p:]); p += 4; return v }
	str := func() string { n := int(u32()); s := string(b[p : p+n]); p += n; return s }
	magic := string(b[:4])
	p = 4
	require.Equal(t, uint32(1), u32())
	if magic == "HYDE" {
		return nil, str()
	}
	require.Equal(t, "HYDO", magic)
	n := u32()
	var vs []verdict
	for range n {
		v := verdict{status: Status(b[p])}
		p++
		v.id, v.payload = str(), str()
		for range u32() {
			v.keys = append(v.keys, str(), str())
		}
		vs = append(vs, v)
	}
	require.Equal(t, len(b), p, "no trailing bytes")
	return vs, ""
}

func TestRun(t *testing.T) {
	var seen []Record
	h := func(r *Record) Result {
		seen = append(seen, Record{ID: []byte(string(r.ID)), ArrivedMillis: r.ArrivedMillis,
			PartitionKey: []byte(string(r.PartitionKey)), Shard: []byte(string(r.Shard)), Sequence: r.Sequence})
		switch string(r.Data) {
		case "keep":
			return Keep().With("a", "1").With("b", "2")
		case "drop":
			return Drop()
		case "fail":
			return Failf("no %d", 7)
		case "panic":
			panic("oops")
		case "bad":
			return Result{status: 9}
		}
		return Ok([]byte(strings.ToUpper(string(r.Data)))).With("k", "v")
	}
	in := frame(
		rec{id: "r1", key: "pk", shard: "shardId-000000000002", data: "hi", arrived: 1710003845000, seq: 42},
		rec{id: "r2", data: "keep"}, rec{id: "r3", data: "drop"}, rec{id: "r4", data: "fail"},
		rec{id: "r5", data: "panic"}, rec{id: "r6", data: "bad"}, rec{id: "r7"},
	)
	vs, batchErr := parse(t, run(h, in, nil))
	require.Empty(t, batchErr)
	require.Equal(t, []verdict{
		{StatusOk, "r1", "HI", []string{"k", "v"}},
		{StatusUnchanged, "r2", "", []string{"a", "1", "b", "2"}},
		{StatusDropped, "r3", "", nil},
		{StatusFailed, "r4", "no 7", nil},
		{StatusFailed, "r5", "panic: oops", nil},
		{StatusFailed, "r6", "invalid result status 9", nil},
		{StatusOk, "r7", "", []string{"k", "v"}},
	}, vs)
	require.Equal(t, Record{ID: []byte("r1"), ArrivedMillis: 1710003845000, PartitionKey: []byte("pk"),
		Shard: []byte("shardId-000000000002"), Sequence: 42}, seen[0])
	require.Equal(t, "2024-03-09T17:04:05Z", seen[0].Arrived().Format("2006-01-02T15:04:05Z07:00"))
}

func TestRunBatchErrors(t *testing.T) {
	keep := func(*Record) Result { return Keep() }
	good := frame(rec{id: "a", data: "x"})
	tests := []struct {
		name string
		h    Handler
		in   []byte
		msg  string
	}{
		{"no handler", nil, good, "no handler registered"},
		{"empty", keep, nil, "bad magic"},
		{"version", keep, append([]byte("HYDI\x02\x00\x00\x00"), good[8:]...), "ABI version 2"},
		{"truncated", keep, good[:len(good)-1], "record 0: input frame truncated"},
		{"trailing", keep, append(good, 0), "1 trailing bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, msg := parse(t, run(tt.h, tt.in, nil))
			require.Nil(t, vs)
			require.Contains(t, msg, tt.msg)
		})
	}
}

func TestHandleRegisters(t *testing.T) {
	t.Cleanup(func() { handler = nil })
	Handle(func(*Record) Result { return Drop() })
	vs, _ := parse(t, run(handler, frame(rec{id: "x"}), nil))
	require.Equal(t, StatusDropped, vs[0].status)
}

func FuzzRun(f *testing.F) {
	f.Add(frame(rec{id: "r1", key: "k", shard: "s", data: "hello", seq: 1}))
	f.Add(frame())
	f.Add([]byte("HYDI\x01\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte("HYDI\x01\x00\x00\x00\x01\x00\x00\x00\xff\xff\xff\xff"))
	h := func(r *Record) Result {
		if len(r.Data)%2 == 0 {
			return Ok(r.Data).With("n", fmt.Sprint(len(r.Data)))
		}
		return Keep()
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		vs, msg := parse(t, run(h, in, nil))
		if msg == "" {
			require.Equal(t, binary.LittleEndian.Uint32(in[8:]), uint32(len(vs)))
		}
	})
}

func BenchmarkRun(b *testing.B) {
	const n = 10000
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{id: fmt.Sprintf("id-%024d", i), key: "keep", shard: "shardId-000000000000", data: strings.Repeat("d", 100)}
	}
	in := frame(recs...)
	keep := func(*Record) Result { return Keep() }
	out := run(keep, in, nil)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		out = run(keep, in, out)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}
