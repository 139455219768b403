package columnar

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConvert_Values(t *testing.T) {
	c := &converter{s: &Schema{}, structs: map[*Type]*fieldIndex{}}
	typ := func(s string) *Type {
		ty, err := ParseType(s)
		require.NoError(t, err)
		c.index(ty)
		return ty
	}
	dec := func(s string) *big.Int { b, _ := new(big.Int).SetString(s, 10); return b }
	tests := []struct {
		typ, json string
		want      any
		err       string
	}{
		{"string", `"a"`, "a", ""},
		{"string", `12.50`, "12.50", ""},
		{"string", `{"a": 1}`, `{"a": 1}`, ""},
		{"string", `null`, nil, ""},
		{"int32", `7`, int32(7), ""},
		{"int32", `"7"`, int32(7), ""},
		{"int32", `1e3`, int32(1000), ""},
		{"int32", `2.0`, int32(2), ""},
		{"int32", `1.5`, nil, "has a fraction"},
		{"int32", `2147483648`, nil, "out of range for int32"},
		{"int32", `true`, nil, "want an integer, got boolean"},
		{"int64", `-9223372036854775808`, int64(-9223372036854775808), ""},
		{"int64", `9223372036854775808`, nil, "out of range"},
		{"int64", `1e999999`, nil, ""},
		{"float", `1.5`, float32(1.5), ""},
		{"float", `1e39`, nil, "is not a float"},
		{"double", `"2.5"`, 2.5, ""},
		{"double", `[1]`, nil, "want a number, got array"},
		{"boolean", `true`, true, ""},
		{"boolean", `"FALSE"`, false, ""},
		{"boolean", `1`, nil, "want a boolean"},
		{"timestamp", `"2024-01-02T03:04:05.123456789+01:00"`, int64(1704161045123456), ""},
		{"timestamp", `"2024-01-02 03:04:05"`, int64(1704164645000000), ""},
		{"timestamp", `"2024-01-02T03:04:05.5"`, int64(1704164645500000), ""},
		{"timestamp", `1700000000`, int64(1700000000000000), ""},
		{"timestamp", `1700000000123`, int64(1700000000123000), ""},
		{"timestamp", `1700000000.25`, int64(1700000000250000), ""},
		{"timestamp", `"1700000000"`, int64(1700000000000000), ""},
		{"timestamp", `-1.5`, int64(-1500000), ""},
		{"timestamp", `100000000000`, int64(100000000000000000), ""},
		{"timestamp", `100000000001`, int64(100000000001000), ""},
		{"timestamp", `"yesterday"`, nil, "not an RFC 3339"},
		{"timestamp", `"10000-01-01T00:00:00Z"`, nil, "not an RFC 3339"},
		{"timestamp", `9223372036854775807`, nil, "out of range"},
		{"timestamp", `false`, nil, "want an RFC 3339"},
		{"date", `"2024-02-29"`, int32(19782), ""},
		{"date", `"1969-12-31T23:00:00Z"`, int32(-1), ""},
		{"date", `"2023-02-29"`, nil, "not a date"},
		{"date", `19782`, nil, "want a date string"},
		{"decimal(5,2)", `123.455`, dec("12346"), ""},
		{"decimal(5,2)", `-123.455`, dec("-12346"), ""},
		{"decimal(5,2)", `"0.004"`, dec("0"), ""},
		{"decimal(5,2)", `1e2`, dec("10000"), ""},
		{"decimal(5,2)", `1000`, nil, "does not fit decimal(5,2)"},
		{"decimal(5,2)", `"12,5"`, nil, "not a decimal number"},
		{"decimal(38,0)", `1e40`, nil, "out of range"},
		{"binary", `"aGk="`, []byte("hi"), ""},
		{"binary", `"aGk"`, []byte("hi"), ""},
		{"binary", `"!!"`, nil, "not valid base64"},
		{"list<int32>", `[1,null,3]`, []any{int32(1), nil, int32(3)}, ""},
		{"list<int32>", `[]`, []any{}, ""},
		{"list<int32>", `[1,"x"]`, nil, `[1]: "x" is not an integer`},
		{"list<int32>", `{}`, nil, "want an array"},
		{"struct<a:int32,b:string>", `{"b":"x","c":1}`, []any{nil, "x"}, ""},
		{"struct<a:int32,b:string>", `{"a":"x"}`, nil, `.a: "x" is not an integer`},
		{"map<string,int32>", `{"k":1,"j":null,"k":2}`, []entry{{Key: "k", Value: int32(2)}, {Key: "j"}}, ""},
		{"map<int32,boolean>", `{"1":true}`, []entry{{Key: int32(1), Value: true}}, ""},
		{"map<int32,boolean>", `{"x":true}`, nil, `["x"]: "x" is not an integer`},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" "+tc.json, func(t *testing.T) {
			got, err := c.value(typ(tc.typ), parseJV(t, tc.json), 0)
			if tc.err != "" || tc.want == nil && tc.json != "null" {
				require.NotNil(t, err)
				require.Contains(t, err.path+": "+err.reason, tc.err)
				return
			}
			require.Nil(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// parseJV scans one JSON value for the converter.
func parseJV(t testing.TB, s string) jv {
	d := &doc{}
	require.True(t, d.scan([]byte(s)), s)
	return d.root()
}

const testSchema = `
case_insensitive: true
columns:
  - {name: id, type: int64}
  - {name: name, type: string}
  - {name: ts, type: timestamp, from: .meta.time}
  - {name: tags, type: "list<string>"}
  - {name: dev, type: "struct<os:string,Version:int32>"}
  - {name: attrs, type: "map<string,double>"}
  - {name: amount, type: "decimal(20,4)"}
  - {name: ok, type: boolean}
  - {name: day, type: date}
  - {name: raw, type: binary}
  - {name: f, type: float}
`

func mustSchema(t testing.TB, doc string) *Schema {
	s, err := ParseSchema("test.yaml", []byte(doc))
	require.NoError(t, err)
	return s
}

func TestConvert_Records(t *testing.T) {
	c := newConverter(mustSchema(t, testSchema))
	tests := []struct {
		name, json string
		want       []any
		err        string
	}{
		{"case-insensitive, exact wins", `{"ID":1,"id":2,"Name":"n","DEV":{"os":"x","version":3}}`,
			[]any{int64(2), "n", nil, nil, []any{"x", int32(3)}, nil, nil, nil, nil, nil, nil}, ""},
		{"jq from", `{"meta":{"time":"2024-01-01T00:00:00Z"}}`,
			[]any{nil, nil, int64(1704067200000000), nil, nil, nil, nil, nil, nil, nil, nil}, ""},
		{"not an object", `[1]`, nil, "format conversion: record is not a JSON object"},
		{"not json", `{"id":`, nil, "record is not valid JSON"},
		{"bad nested", `{"dev":{"os":"x","version":"v"}}`, nil, `column dev.Version: "v" is not an integer`},
		{"jq error", `{"meta":{"time":{"a":1}}}`, nil, "column ts: want an RFC 3339 string"},
		{"jq runtime error", `{"meta":"s"}`, nil, "column ts: jq:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row := make([]any, 11)
			err := c.row([]byte(tc.json), row, newRecord(c))
			if tc.err != "" {
				var ce *ConversionError
				require.ErrorAs(t, err, &ce)
				require.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, row)
		})
	}
}

// FuzzConvert feeds arbitrary records through both formats: a record is
// either written or rejected with a *ConversionError, never a panic or a
// broken file.
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`{"id":1,"name":"a","meta":{"time":1700000000},"tags":["x",null],"dev":{"os":"l","version":2},"attrs":{"a":1.5},"amount":"12.3456","ok":true,"day":"2024-01-01","raw":"aGk=","f":1.25}`))
	f.Add([]byte(`{"id":"9223372036854775807","amount":-1e-5,"attrs":{"a":null},"tags":[]}`))
	f.Add([]byte(`{"meta":{"time":"1969-12-31T23:59:59.999999Z"},"day":"0001-01-01"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"dev":[],"tags":{}}`))
	s := mustSchema(f, testSchema)
	pq, err := NewEncoder(Parquet, "zstd", s)
	require.NoError(f, err)
	oc, err := NewEncoder(ORC, "snappy", s)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, record []byte) {
		for _, e := range []*Encoder{pq, oc} {
			var buf bytes.Buffer
			w := e.NewWriter(&buf)
			err := w.Write(record)
			var ce *ConversionError
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("%s: fatal error for a record: %v", e.Kind(), err)
			}
			require.NoError(t, w.Write([]byte(`{"id":1}`))) // the file still takes rows
			require.NoError(t, w.Close())
			rows := readRows(t, e.Kind(), buf.Bytes())
			if err == nil {
				require.Equal(t, 2, rows)
			} else {
				require.Equal(t, 1, rows)
			}
		}
	})
}
