package columnar

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// dumpJV renders a scanned value as dumpGJSON renders gjson's view of
// it, so that the two parsers can be compared.
func dumpJV(v jv) string {
	switch v.kind() {
	case 0:
		return "missing"
	case jObject:
		var b strings.Builder
		b.WriteString("{")
		for k, end := v.members(); k < end; k = v.d.nodes[k+1].next {
			fmt.Fprintf(&b, "%q:%s,", v.d.at(k).str(), dumpJV(v.d.at(k+1)))
		}
		return b.String() + "}"
	case jArray:
		var b strings.Builder
		b.WriteString("[")
		for e, end := v.members(); e < end; e = v.d.nodes[e].next {
			b.WriteString(dumpJV(v.d.at(e)) + ",")
		}
		return b.String() + "]"
	case jString:
		return fmt.Sprintf("str(%q)", v.str())
	}
	return fmt.Sprintf("%d(%s)", v.kind(), v.raw())
}

func dumpGJSON(r gjson.Result) string {
	switch {
	case r.IsObject():
		var b strings.Builder
		b.WriteString("{")
		r.ForEach(func(k, v gjson.Result) bool {
			fmt.Fprintf(&b, "%q:%s,", k.Str, dumpGJSON(v))
			return true
		})
		return b.String() + "}"
	case r.IsArray():
		var b strings.Builder
		b.WriteString("[")
		r.ForEach(func(_, v gjson.Result) bool {
			b.WriteString(dumpGJSON(v) + ",")
			return true
		})
		return b.String() + "]"
	case r.Type == gjson.String:
		return fmt.Sprintf("str(%q)", r.Str)
	}
	kinds := map[gjson.Type]jkind{gjson.Null: jNull, gjson.False: jFalse, gjson.True: jTrue, gjson.Number: jNumber}
	return fmt.Sprintf("%d(%s)", kinds[r.Type], r.Raw)
}

// FuzzScan checks the scanner against gjson: it accepts exactly what
// gjson.ValidBytes accepts, and sees the same values.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, ` {"a" : [1, -2.5e+3, "x\"y\u00e9", true, false, null, {}] } `, `[]`, `"s"`, `0`, `-0.0E-0`,
		`01`, `1.`, `.5`, `-`, `1e`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `"\x"`, `"\u12G4"`, "\"\x01\"", `tru`,
		`nul`, `[[[[[]]]]]`, `{"a":{"b":{"c":[{"d":null}]}}}`, `{} {}`, `[1 2]`, "\"\xff\xfe\"", `{"\ud800":"\\\/"}`,
		`"0123456789abcdef0123456789\"abcdef"`, "\t\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d doc
		ok := d.scan(b)
		require.Equal(t, gjson.ValidBytes(b), ok, "%q", b)
		if ok {
			require.Equal(t, dumpGJSON(gjson.ParseBytes(b)), dumpJV(d.root()), "%q", b)
		}
	})
}

// equalRows compares parquet rows value by value, levels included.
func equalRows(t *testing.T, want, got parquet.Row) {
	t.Helper()
	require.Equal(t, len(want), len(got))
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, w.Kind(), g.Kind(), "value %d", i)
		require.True(t, w.IsNull() == g.IsNull() && bytes.Equal(w.Bytes(), g.Bytes()), "value %d: want %v, got %v", i, w, g)
		require.Equal(t, w.RepetitionLevel(), g.RepetitionLevel(), "value %d", i)
		require.Equal(t, w.DefinitionLevel(), g.DefinitionLevel(), "value %d", i)
		require.Equal(t, w.Column(), g.Column(), "value %d", i)
	}
}

// normalize makes typed values comparable by require.Equal: NaN equal
// to NaN, big integers by value.
func normalize(v any) any {
	switch x := v.(type) {
	case float32:
		if x != x {
			return "NaN32"
		}
	case float64:
		if x != x {
			return "NaN64"
		}
	case *big.Int:
		return "big " + x.String()
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case []entry:
		out := make([]any, len(x))
		for i := range x {
			out[i] = [2]any{normalize(x[i].Key), normalize(x[i].Value)}
		}
		return out
	}
	return v
}

// oracleSchemas are the schemas the differential tests convert by.
var oracleSchemas = []string{testSchema, benchSchema, `
columns:
  - {name: m, type: "map<string,list<int32>>"}
  - {name: mi, type: "map<int64,string>"}
  - {name: s, type: "list<struct<a:decimal(9,3),b:decimal(18,0),c:decimal(30,5),d:map<string,boolean>>>"}
  - {name: e, type: string, from: '.m | keys'}
  - {name: x, type: timestamp}
  - {name: y, type: date}
  - {name: z, type: float}
`}

// oracleSeeds are records for the differential tests.
var oracleSeeds = []string{
	`{"m":{"a":[1,2],"b":null,"a":[3],"c":[]},"mi":{"1":"x","01":"y","1":"z"},"s":[{"a":"1.2345","b":-12,"c":"-123.456789","d":{"t":true,"t":"FALSE"}},null,{}]}`,
	`{"m":{"a":["x"],"a":[1]}}`, `{"m":{"a":[1],"a":["x"]}}`, `{"mi":{"x":"1"}}`, `{"s":[{"a":0.0005},{"a":-0.0005},{"a":999999.9995}]}`,
	`{"s":[{"b":"+5"},{"b":"5."},{"b":".5"},{"b":" 7 "},{"b":1e3},{"b":"999999999999999999"},{"b":"1000000000000000000"}]}`,
	`{"x":"2024-01-02T03:04:05Z","y":"2024-01-02","z":"1.5"}`, `{"x":1700000000.5,"y":"1969-12-31 23:00:00","z":1e39}`,
	`{"m":{"\u0061":[1],"a":[2]},"e":1}`, `{"m":{"k1":[1],"k2":[1],"k3":[1],"k4":[1],"k5":[1],"k6":[1],"k7":[1],"k8":[1],"k9":[1],"k10":[1],"k11":[1],"k12":[1],"k13":[1],"k14":[1],"k15":[1],"k16":[1],"k17":[1],"k18":[1],"k3":[9],"k18":[8]}}`,
	`{"id":"12","name":{"a":[1, 2]},"ID":3,"tags":["a\nb",1,true,{"x":null}],"dev":{"OS":"l","os":"m","version":"7"},"attrs":{"a":"1e2"},"amount":"123.45678","raw":"aGk","f":"x"}`,
	`{"id":1.5}`, `{"id":"-9223372036854775808"}`, `{"id":"1e18"}`, `{"amount":"1e30"}`, `{"ok":"True"}`, `{"day":19782}`,
	`{"quantity":2147483648}`, `{"quantity":-2147483648}`, `{"price":"NaN"}`, `{"price":"inf"}`, `{"tags":"x"}`,
	`{"device":{"version":null},"attrs":{}}`, `{"attrs":{"":"","\\":"\""}}`, `{"meta":{"time":"x"}}`, `{"meta":{"time":[1]}}`,
}

// FuzzOracle checks that the fast converter and shredder convert every
// record exactly as the gjson-based originals did: the same typed row or
// the same error, and the same parquet row.
func FuzzOracle(f *testing.F) {
	for i := range oracleSchemas {
		for _, r := range oracleSeeds {
			f.Add(uint8(i), []byte(r))
		}
		for _, r := range benchRecords(3) {
			f.Add(uint8(i), r)
		}
		f.Add(uint8(i), []byte(`{"id":1,"name":"a","meta":{"time":1700000000},"tags":["x",null],"dev":{"os":"l","version":2},"attrs":{"a":1.5},"amount":"12.3456","ok":true,"day":"2024-01-01","raw":"aGk=","f":1.25}`))
	}
	var convs []*converter
	for _, doc := range oracleSchemas {
		convs = append(convs, newConverter(mustSchema(f, doc)))
	}
	f.Fuzz(func(t *testing.T, which uint8, record []byte) {
		c := convs[int(which)%len(convs)]
		n := len(c.s.Columns)
		want := make([]any, n)
		wantErr := oldRow(c, record, want, make([]gjson.Result, n))
		got := make([]any, n)
		gotErr := c.row(record, got, newRecord(c))
		sh := newShredder(c)
		row, shErr := sh.shred(nil, record)
		if wantErr != nil {
			require.EqualError(t, gotErr, wantErr.Error())
			require.EqualError(t, shErr, wantErr.Error())
			return
		}
		require.NoError(t, gotErr)
		require.Equal(t, normalize(want), normalize(got))
		require.NoError(t, shErr)
		equalRows(t, newOldShredder(c.s).shred(want), row)
	})
}

// TestWriter_RecordReused writes every record from one buffer that is
// overwritten after each Write: a file must not refer to a record's
// bytes once Write has returned.
func TestWriter_RecordReused(t *testing.T) {
	s := mustSchema(t, benchSchema)
	recs := benchRecords(300)
	for _, kind := range []string{Parquet, ORC} {
		e, err := NewEncoder(kind, "none", s, WithBlockBytes(50_000))
		require.NoError(t, err)
		var fresh, reused bytes.Buffer
		wf, wr := e.NewWriter(&fresh), e.NewWriter(&reused)
		buf := make([]byte, 0, 4096)
		for _, r := range recs {
			require.NoError(t, wf.Write(bytes.Clone(r)))
			buf = append(buf[:0], r...)
			require.NoError(t, wr.Write(buf))
			for i := range buf {
				buf[i] = 'x'
			}
		}
		require.NoError(t, wf.Close())
		require.NoError(t, wr.Close())
		require.Equal(t, fresh.Bytes(), reused.Bytes(), kind)
	}
}
