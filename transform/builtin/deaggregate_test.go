package builtin

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// kplSub is one Record of a hand-built AggregatedRecord.
type kplSub struct {
	pk   uint64
	ehk  *uint64
	data string
	tags [][2]string
}

// kplBody encodes an AggregatedRecord protobuf message field by field.
func kplBody(pks, ehks []string, subs []kplSub) []byte {
	var b []byte
	for _, pk := range pks {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, pk)
	}
	for _, e := range ehks {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, e)
	}
	for _, s := range subs {
		var r []byte
		r = protowire.AppendTag(r, 1, protowire.VarintType)
		r = protowire.AppendVarint(r, s.pk)
		if s.ehk != nil {
			r = protowire.AppendTag(r, 2, protowire.VarintType)
			r = protowire.AppendVarint(r, *s.ehk)
		}
		r = protowire.AppendTag(r, 3, protowire.BytesType)
		r = protowire.AppendString(r, s.data)
		for _, t := range s.tags {
			var tag []byte
			tag = protowire.AppendTag(tag, 1, protowire.BytesType)
			tag = protowire.AppendString(tag, t[0])
			tag = protowire.AppendTag(tag, 2, protowire.BytesType)
			tag = protowire.AppendString(tag, t[1])
			r = protowire.AppendTag(r, 4, protowire.BytesType)
			r = protowire.AppendBytes(r, tag)
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, r)
	}
	return b
}

// kplWrap frames a protobuf body as a KPL aggregated record.
func kplWrap(body []byte) []byte {
	sum := md5.Sum(body)
	out := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, body...)
	return append(out, sum[:]...)
}

func u64(v uint64) *uint64 { return &v }

// kplVector is a fixed aggregated record, built by hand from the wire format:
//
//	f3899ac2                 magic
//	0a 01 61                 partition_key_table[0] = "a"
//	0a 01 62                 partition_key_table[1] = "b"
//	12 01 31                 explicit_hash_key_table[0] = "1"
//	1a 06 | 08 00 1a 02 6869 records[0] = {partition_key_index 0, data "hi"}
//	1a 08 | 08 01 10 00 1a 02 796f
//	                         records[1] = {partition_key_index 1, explicit_hash_key_index 0, data "yo"}
//	81430477...cf2f2cf3      MD5 of the 27 protobuf bytes
const kplVector = "f3899ac2" + "0a01610a0162120131" + "1a0608001a026869" + "1a08080110001a02796f" +
	"81430477e159c69f1403a3f6cf2f2cf3"

func mkRecords(data ...[]byte) []record.Record {
	out := make([]record.Record, len(data))
	for i, d := range data {
		out[i] = record.Record{ID: "id" + string(rune('A'+i%26)), Key: "pk", Shard: "shardId-000000000001",
			Seq: uint64(100 + i), Arrived: time.UnixMilli(1_700_000_000_000), Data: d,
			Meta: map[string]string{"in": "x"}}
	}
	return out
}

// requireAligned checks the contract every processor keeps and that copies
// preserve the identity fields.
func requireAligned(t testing.TB, in []record.Record, res []transform.Result) {
	t.Helper()
	require.Len(t, res, len(in))
	for i, r := range res {
		switch r.Status {
		case transform.Ok:
			require.NoError(t, r.Err)
			for _, o := range r.Out {
				require.Equal(t, in[i].ID, o.ID)
				require.Equal(t, in[i].Seq, o.Seq)
				require.Equal(t, in[i].Shard, o.Shard)
				require.Equal(t, in[i].Arrived, o.Arrived)
			}
		case transform.Failed:
			require.Error(t, r.Err)
			require.Empty(t, r.Out)
		default:
			require.Empty(t, r.Out)
		}
	}
}

func outData(r transform.Result) []string {
	var s []string
	for _, o := range r.Out {
		s = append(s, string(o.Data))
	}
	return s
}

func TestDeaggregateKPLVector(t *testing.T) {
	vec, err := hex.DecodeString(kplVector)
	require.NoError(t, err)
	built := kplWrap(kplBody([]string{"a", "b"}, []string{"1"}, []kplSub{{pk: 0, data: "hi"}, {pk: 1, ehk: u64(0), data: "yo"}}))
	require.Equal(t, vec, built, "the builder and the hand-written vector agree")

	d, err := NewDeaggregate(DeaggregateOptions{})
	require.NoError(t, err)
	in := mkRecords(vec)
	res, err := d.Process(t.Context(), in)
	require.NoError(t, err)
	requireAligned(t, in, res)
	require.Equal(t, transform.Ok, res[0].Status)
	require.Equal(t, []string{"hi", "yo"}, outData(res[0]))
	require.Equal(t, map[string]string{"in": "x", MetaPartitionKey: "a", MetaSubSequence: "0"}, res[0].Out[0].Meta)
	require.Equal(t, map[string]string{"in": "x", MetaPartitionKey: "b", MetaExplicitHashKey: "1", MetaSubSequence: "1"}, res[0].Out[1].Meta)
	require.Equal(t, map[string]string{"in": "x"}, in[0].Meta, "input Meta untouched")
}

func TestDeaggregateKPL(t *testing.T) {
	many := make([]kplSub, 300)
	for i := range many {
		many[i] = kplSub{pk: uint64(i % 3), data: strings.Repeat("x", i)}
	}
	good := kplWrap(kplBody([]string{"k0", "k1", "k2"}, nil, many))
	badMD5 := append([]byte(nil), good...)
	badMD5[len(badMD5)-1] ^= 0xff
	// Tags and an unknown field (99, fixed64) must be skipped.
	withExtras := kplBody([]string{"p"}, nil, []kplSub{{pk: 0, data: "d", tags: [][2]string{{"k", "v"}}}})
	withExtras = protowire.AppendTag(withExtras, 99, protowire.Fixed64Type)
	withExtras = protowire.AppendFixed64(withExtras, 7)
	// Records before the key table: field order is free on the wire.
	reordered := append(kplBody(nil, nil, []kplSub{{pk: 0, data: "late"}}), kplBody([]string{"q"}, nil, nil)...)

	tests := []struct {
		name    string
		opts    DeaggregateOptions
		data    []byte
		want    []string
		wantErr string
		wantPKs []string
	}{
		{name: "not aggregated", data: []byte(`{"plain":1}`), want: []string{`{"plain":1}`}},
		{name: "empty", data: []byte{}, want: []string{""}},
		{name: "magic only", data: []byte{0xF3, 0x89, 0x9A, 0xC2}, want: []string{"\xF3\x89\x9A\xC2"}},
		{name: "magic plus digest only passes through", data: kplWrap(nil), want: []string{string(kplWrap(nil))}},
		{name: "many sub-records", data: good, wantPKs: []string{"k0", "k1", "k2"}},
		{name: "bad md5 fails", data: badMD5, wantErr: "MD5"},
		{name: "bad md5 lenient passes through", opts: DeaggregateOptions{LenientKPL: true}, data: badMD5, want: []string{string(badMD5)}},
		{name: "tags and unknown fields skipped", data: kplWrap(withExtras), want: []string{"d"}, wantPKs: []string{"p"}},
		{name: "field order free", data: kplWrap(reordered), want: []string{"late"}, wantPKs: []string{"q"}},
		{name: "zero records", data: kplWrap(kplBody([]string{"a"}, nil, nil)), want: nil},
		{name: "pk index out of range", data: kplWrap(kplBody([]string{"a"}, nil, []kplSub{{pk: 1, data: "x"}})), wantErr: "partition_key_index 1 outside"},
		{name: "huge pk index", data: kplWrap(kplBody([]string{"a"}, nil, []kplSub{{pk: 1 << 63, data: "x"}})), wantErr: "outside"},
		{name: "ehk index out of range", data: kplWrap(kplBody([]string{"a"}, nil, []kplSub{{pk: 0, ehk: u64(0), data: "x"}})), wantErr: "explicit_hash_key_index"},
		{name: "missing data", data: kplWrap(append(protowire.AppendTag(kplBody([]string{"a"}, nil, nil), 3, protowire.BytesType), 2, 0x08, 0x00)), wantErr: "missing data"},
		{name: "missing pk index", data: kplWrap(append(protowire.AppendTag(kplBody([]string{"a"}, nil, nil), 3, protowire.BytesType), 2, 0x1a, 0x00)), wantErr: "missing partition_key_index"},
		{name: "length beyond input", data: kplWrap([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}), wantErr: "malformed"},
		{name: "truncated varint", data: kplWrap([]byte{0x1a, 0x02, 0x08, 0xff}), wantErr: "malformed"},
		{name: "field number zero", data: kplWrap([]byte{0x02, 0x00}), wantErr: "malformed"},
		{name: "wrong wire type for table", data: kplWrap([]byte{0x08, 0x01}), wantErr: "wire type"},
		{name: "stray end group", data: kplWrap([]byte{0x0c}), wantErr: "malformed"},
		{name: "too many sub-records", opts: DeaggregateOptions{MaxSubRecords: 10}, data: good, wantErr: "more than 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDeaggregate(tt.opts)
			require.NoError(t, err)
			in := mkRecords([]byte("before"), tt.data, []byte("after"))
			res, err := d.Process(t.Context(), in)
			require.NoError(t, err)
			requireAligned(t, in, res)
			require.Equal(t, []string{"before"}, outData(res[0]))
			require.Equal(t, []string{"after"}, outData(res[2]))
			r := res[1]
			if tt.wantErr != "" {
				require.Equal(t, transform.Failed, r.Status)
				require.ErrorIs(t, r.Err, ErrDeaggregate)
				require.ErrorContains(t, r.Err, tt.wantErr)
				return
			}
			require.Equal(t, transform.Ok, r.Status)
			if tt.wantPKs == nil || tt.want != nil {
				require.Equal(t, tt.want, outData(r))
			}
			if tt.name == "many sub-records" {
				require.Len(t, r.Out, len(many))
				for i, o := range r.Out {
					require.Equal(t, many[i].data, string(o.Data))
					require.Equal(t, tt.wantPKs[i%3], o.Meta[MetaPartitionKey])
				}
			} else if tt.wantPKs != nil {
				for i, o := range r.Out {
					require.Equal(t, tt.wantPKs[i], o.Meta[MetaPartitionKey])
				}
			}
		})
	}
}

func TestDeaggregateJSON(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		max     int
		want    []string
		wantErr string
	}{
		{name: "concatenated", data: `{"a":1}{"a":2}`, want: []string{`{"a":1}`, `{"a":2}`}},
		{name: "json lines", data: "{\"a\":1}\n{\"a\":2}\n", want: []string{`{"a":1}`, `{"a":2}`}},
		{name: "whitespace around", data: " \t\r\n{\"a\":1}  \n\n {\"b\":[1,{\"c\":2}]} ", want: []string{`{"a":1}`, `{"b":[1,{"c":2}]}`}},
		{name: "braces in strings", data: `{"s":"}{\"}"}{"t":"\\"}`, want: []string{`{"s":"}{\"}"}`, `{"t":"\\"}`}},
		{name: "single", data: `{}`, want: []string{`{}`}},
		{name: "empty", data: ``, want: nil},
		{name: "only whitespace", data: " \n", want: nil},
		{name: "array is invalid", data: `[{"a":1}]`, wantErr: "not a JSON object"},
		{name: "scalar", data: `{"a":1} 42`, wantErr: "sub-record 1 at byte 8 is not a JSON object"},
		{name: "unterminated", data: `{"a":1}{"a":`, wantErr: "unterminated"},
		{name: "unterminated string", data: `{"a":"}`, wantErr: "unterminated"},
		{name: "mismatched brackets", data: `{"a":1]`, wantErr: "not valid JSON"},
		{name: "invalid inside", data: `{a:1}`, wantErr: "not valid JSON"},
		{name: "too many", data: `{}{}{}`, max: 2, wantErr: "more than 2"},
		{name: "deep nesting", data: "{\"a\":" + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}", wantErr: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDeaggregate(DeaggregateOptions{Mode: ModeJSON, MaxSubRecords: tt.max})
			require.NoError(t, err)
			in := mkRecords([]byte(tt.data), []byte(`{"z":0}`))
			res, err := d.Process(t.Context(), in)
			require.NoError(t, err)
			requireAligned(t, in, res)
			require.Equal(t, []string{`{"z":0}`}, outData(res[1]))
			if tt.wantErr != "" {
				require.Equal(t, transform.Failed, res[0].Status)
				require.ErrorIs(t, res[0].Err, ErrDeaggregate)
				require.ErrorContains(t, res[0].Err, tt.wantErr)
				return
			}
			require.Equal(t, transform.Ok, res[0].Status)
			require.Equal(t, tt.want, outData(res[0]))
			for _, o := range res[0].Out {
				require.Equal(t, len(o.Data), cap(o.Data), "sub-records are capped so appends cannot clobber neighbours")
			}
		})
	}
}

func TestDeaggregateDelimited(t *testing.T) {
	tests := []struct {
		name  string
		delim string
		data  string
		max   int
		want  []string
		fail  bool
	}{
		{name: "basic", delim: "####", data: "a####b####c", want: []string{"a", "b", "c"}},
		{name: "trailing delimiter dropped", delim: "\n", data: "a\nb\n", want: []string{"a", "b"}},
		{name: "inner empty kept", delim: ",", data: "a,,b", want: []string{"a", "", "b"}},
		{name: "leading empty kept", delim: ",", data: ",a", want: []string{"", "a"}},
		{name: "only delimiter", delim: ",", data: ",", want: []string{""}},
		{name: "no delimiter", delim: ",", data: "abc", want: []string{"abc"}},
		{name: "empty", delim: ",", data: "", want: nil},
		{name: "overlapping delimiter", delim: "aa", data: "aaa", want: []string{"", "a"}},
		{name: "too many", delim: ",", data: "a,b,c", max: 2, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDeaggregate(DeaggregateOptions{Mode: ModeDelimited, Delimiter: tt.delim, MaxSubRecords: tt.max})
			require.NoError(t, err)
			in := mkRecords([]byte(tt.data))
			res, err := d.Process(t.Context(), in)
			require.NoError(t, err)
			requireAligned(t, in, res)
			if tt.fail {
				require.Equal(t, transform.Failed, res[0].Status)
				require.ErrorIs(t, res[0].Err, ErrDeaggregate)
				return
			}
			require.Equal(t, transform.Ok, res[0].Status)
			require.Equal(t, tt.want, outData(res[0]))
		})
	}
}

func TestNewDeaggregateOptions(t *testing.T) {
	for _, opts := range []DeaggregateOptions{
		{Mode: "avro"},
		{Mode: ModeDelimited},
		{MaxSubRecords: -1},
	} {
		_, err := NewDeaggregate(opts)
		require.Error(t, err, "%+v", opts)
	}
}

func TestDeaggregateSharedBackingAndCancel(t *testing.T) {
	d, err := NewDeaggregate(DeaggregateOptions{Mode: ModeDelimited, Delimiter: ","})
	require.NoError(t, err)
	// Many records with many pieces force the shared outs array to grow;
	// every window must still point at the right pieces.
	var data [][]byte
	for i := range 200 {
		data = append(data, []byte(strings.Repeat(string(rune('a'+i%26))+",", i%7)))
	}
	in := mkRecords(data...)
	res, err := d.Process(t.Context(), in)
	require.NoError(t, err)
	requireAligned(t, in, res)
	for i, r := range res {
		require.Len(t, r.Out, i%7)
		for _, o := range r.Out {
			require.Equal(t, string(rune('a'+i%26)), string(o.Data))
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = d.Process(ctx, in)
	require.ErrorIs(t, err, context.Canceled)
}
