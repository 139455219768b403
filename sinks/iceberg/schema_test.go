package iceberg

import (
	"testing"

	ice "github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"
)

const everyKind = `columns:
  - { name: s, type: string }
  - { name: i, type: int32 }
  - { name: l, type: int64 }
  - { name: f, type: float }
  - { name: d, type: double }
  - { name: b, type: boolean }
  - { name: ts, type: timestamp }
  - { name: dt, type: date }
  - { name: dec, type: "decimal(10,2)" }
  - { name: bin, type: binary }
  - { name: tags, type: "list<string>" }
  - { name: counts, type: "map<string,int64>" }
  - { name: st, type: "struct<a:int32,b:string>" }
`

// fieldIDs collects every field id of t's nested fields into seen.
func fieldIDs(t *testing.T, typ ice.Type, seen map[int]string, path string) {
	t.Helper()
	add := func(id int, name string) {
		require.Positive(t, id, name)
		prev, dup := seen[id]
		require.False(t, dup, "id %d of %s already used by %s", id, name, prev)
		seen[id] = name
	}
	switch x := typ.(type) {
	case *ice.ListType:
		add(x.ElementID, path+".element")
		fieldIDs(t, x.Element, seen, path+".element")
	case *ice.MapType:
		add(x.KeyID, path+".key")
		add(x.ValueID, path+".value")
		fieldIDs(t, x.KeyType, seen, path+".key")
		fieldIDs(t, x.ValueType, seen, path+".value")
	case *ice.StructType:
		for _, f := range x.FieldList {
			add(f.ID, path+"."+f.Name)
			fieldIDs(t, f.Type, seen, path+"."+f.Name)
		}
	}
}

func TestTableSchema(t *testing.T) {
	s := mustSchema(t, everyKind)
	ts := TableSchema(s)

	fields := ts.Fields()
	require.Len(t, fields, len(s.Columns))
	want := map[string]ice.Type{
		"s":   ice.PrimitiveTypes.String,
		"i":   ice.PrimitiveTypes.Int32,
		"l":   ice.PrimitiveTypes.Int64,
		"f":   ice.PrimitiveTypes.Float32,
		"d":   ice.PrimitiveTypes.Float64,
		"b":   ice.PrimitiveTypes.Bool,
		"ts":  ice.PrimitiveTypes.TimestampTz,
		"dt":  ice.PrimitiveTypes.Date,
		"dec": ice.DecimalTypeOf(10, 2),
		"bin": ice.PrimitiveTypes.Binary,
	}
	seen := map[int]string{}
	for i, f := range fields {
		require.Equal(t, s.Columns[i].Name, f.Name, "columns keep their order")
		require.False(t, f.Required, "%s is optional", f.Name)
		require.Positive(t, f.ID)
		_, dup := seen[f.ID]
		require.False(t, dup, "id %d of %s", f.ID, f.Name)
		seen[f.ID] = f.Name
		if w, ok := want[f.Name]; ok {
			require.True(t, w.Equals(f.Type), "%s: want %s, got %s", f.Name, w, f.Type)
		}
	}
	for _, f := range fields {
		fieldIDs(t, f.Type, seen, f.Name)
	}
	// 13 columns, a list element, a map key and value, two struct fields.
	require.Len(t, seen, 13+1+2+2)

	ts0, ok := ts.FindFieldByName("ts")
	require.True(t, ok)
	require.False(t, ice.PrimitiveTypes.Timestamp.Equals(ts0.Type), "timestamps are UTC: timestamptz")

	tags, _ := ts.FindFieldByName("tags")
	list, ok := tags.Type.(*ice.ListType)
	require.True(t, ok, "%T", tags.Type)
	require.True(t, ice.PrimitiveTypes.String.Equals(list.Element))
	require.False(t, list.ElementRequired)

	counts, _ := ts.FindFieldByName("counts")
	m, ok := counts.Type.(*ice.MapType)
	require.True(t, ok, "%T", counts.Type)
	require.True(t, ice.PrimitiveTypes.String.Equals(m.KeyType))
	require.True(t, ice.PrimitiveTypes.Int64.Equals(m.ValueType))
	require.False(t, m.ValueRequired)

	st, _ := ts.FindFieldByName("st")
	stt, ok := st.Type.(*ice.StructType)
	require.True(t, ok, "%T", st.Type)
	require.Len(t, stt.FieldList, 2)
	require.Equal(t, "a", stt.FieldList[0].Name)
	require.True(t, ice.PrimitiveTypes.Int32.Equals(stt.FieldList[0].Type))
	require.False(t, stt.FieldList[0].Required)
	require.Equal(t, "b", stt.FieldList[1].Name)
	require.True(t, ice.PrimitiveTypes.String.Equals(stt.FieldList[1].Type))
	require.False(t, stt.FieldList[1].Required)
}

func TestHydrantType_RoundTrip(t *testing.T) {
	s := mustSchema(t, everyKind+`  - { name: deep, type: "list<map<date,struct<x:list<decimal(38,0)>,y:binary>>>" }
  - { name: odd, type: "struct<`+"`a b`"+`:string>" }
`)
	ts := TableSchema(s)
	for _, c := range s.Columns {
		f, ok := ts.FindFieldByName(c.Name)
		require.True(t, ok, c.Name)
		got, err := hydrantType(f.Type)
		require.NoError(t, err, c.Name)
		require.Equal(t, c.Type.String(), got.String(), c.Name)
	}
}

func TestHydrantType_Refused(t *testing.T) {
	tests := []struct {
		typ  ice.Type
		name string
	}{
		{ice.PrimitiveTypes.Timestamp, "timestamp"},
		{ice.PrimitiveTypes.UUID, "uuid"},
		{ice.PrimitiveTypes.Time, "time"},
		{ice.FixedTypeOf(4), "fixed[4]"},
		{ice.PrimitiveTypes.TimestampTzNs, "timestamptz_ns"},
		{&ice.ListType{ElementID: 2, Element: ice.PrimitiveTypes.UUID}, "uuid"},
		{&ice.MapType{KeyID: 2, KeyType: ice.PrimitiveTypes.String, ValueID: 3, ValueType: ice.PrimitiveTypes.Time}, "time"},
		{&ice.StructType{FieldList: []ice.NestedField{{ID: 2, Name: "a", Type: ice.PrimitiveTypes.Timestamp}}}, "timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			_, err := hydrantType(tt.typ)
			require.Error(t, err)
			require.Contains(t, err.Error(), "type "+tt.name+" has no Hydrant schema type")
		})
	}
}

func TestColumnarSchema(t *testing.T) {
	ts := ice.NewSchema(0,
		ice.NestedField{ID: 1, Name: "user", Type: ice.PrimitiveTypes.String, Required: true},
		ice.NestedField{ID: 2, Name: "ts", Type: ice.PrimitiveTypes.TimestampTz},
		ice.NestedField{ID: 3, Name: "amount", Type: ice.DecimalTypeOf(12, 3)},
		ice.NestedField{ID: 4, Name: "tags", Type: &ice.ListType{ElementID: 7, Element: ice.PrimitiveTypes.Int32}},
		ice.NestedField{ID: 5, Name: "attrs", Type: &ice.MapType{KeyID: 8, KeyType: ice.PrimitiveTypes.String, ValueID: 9, ValueType: ice.PrimitiveTypes.Float64}},
		ice.NestedField{ID: 6, Name: "a \"quoted\" name", Type: &ice.StructType{FieldList: []ice.NestedField{
			{ID: 10, Name: "x y", Type: ice.PrimitiveTypes.Bool},
			{ID: 11, Name: "d", Type: ice.PrimitiveTypes.Date},
		}}},
	)
	s, err := columnarSchema("t", ts)
	require.NoError(t, err)
	var got []string
	for _, c := range s.Columns {
		got = append(got, c.Name+" "+c.Type.String())
	}
	require.Equal(t, []string{
		"user string",
		"ts timestamp",
		"amount decimal(12,3)",
		"tags list<int32>",
		"attrs map<string,double>",
		"a \"quoted\" name struct<`x y`:boolean,d:date>",
	}, got)
	// The table made from it has the same types.
	require.NoError(t, checkCompatible(s, ts))
}

func TestColumnarSchema_Refused(t *testing.T) {
	ts := ice.NewSchema(0,
		ice.NestedField{ID: 1, Name: "ok", Type: ice.PrimitiveTypes.String},
		ice.NestedField{ID: 2, Name: "local", Type: ice.PrimitiveTypes.Timestamp},
		ice.NestedField{ID: 3, Name: "id", Type: ice.PrimitiveTypes.UUID},
	)
	_, err := columnarSchema("t", ts)
	require.Error(t, err)
	require.Contains(t, err.Error(), "column local: type timestamp has no Hydrant schema type")
	require.Contains(t, err.Error(), "column id: type uuid has no Hydrant schema type")
	require.NotContains(t, err.Error(), "column ok")
}

func TestCheckCompatible(t *testing.T) {
	s := mustSchema(t, everyKind)
	require.NoError(t, checkCompatible(s, TableSchema(s)))

	// The table may hold optional columns the file does not write.
	wider := mustSchema(t, everyKind+"  - { name: extra, type: string }\n")
	require.NoError(t, checkCompatible(s, TableSchema(wider)))

	// A column of the file missing from the table.
	err := checkCompatible(wider, TableSchema(s))
	require.Error(t, err)
	require.Contains(t, err.Error(), "column extra is not in the table")

	// A type mismatch names both types.
	file := mustSchema(t, "columns:\n  - { name: n, type: int32 }\n  - { name: st, type: \"struct<a:int32>\" }\n")
	table := mustSchema(t, "columns:\n  - { name: n, type: int64 }\n  - { name: st, type: \"struct<a:int64>\" }\n")
	err = checkCompatible(file, TableSchema(table))
	require.Error(t, err)
	require.Contains(t, err.Error(), "column n is int32 in the schema file but int64 in the table")
	require.Contains(t, err.Error(), "column st is struct<a:int32> in the schema file but struct<a:int64> in the table")

	// A required table column the file does not fill.
	ts := ice.NewSchema(0,
		ice.NestedField{ID: 1, Name: "n", Type: ice.PrimitiveTypes.Int32},
		ice.NestedField{ID: 2, Name: "must", Type: ice.PrimitiveTypes.String, Required: true},
		ice.NestedField{ID: 3, Name: "may", Type: ice.PrimitiveTypes.String},
	)
	err = checkCompatible(mustSchema(t, "columns:\n  - { name: n, type: int32 }\n"), ts)
	require.Error(t, err)
	require.Contains(t, err.Error(), "the table's required column must is not in the schema file")
	require.NotContains(t, err.Error(), "may")

	// A table column with no Hydrant type.
	ts = ice.NewSchema(0, ice.NestedField{ID: 1, Name: "ts", Type: ice.PrimitiveTypes.Timestamp})
	err = checkCompatible(mustSchema(t, "columns:\n  - { name: ts, type: timestamp }\n"), ts)
	require.Error(t, err)
	require.Contains(t, err.Error(), "column ts: type timestamp has no Hydrant schema type")
}
