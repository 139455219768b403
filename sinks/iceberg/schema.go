package iceberg

import (
	"errors"
	"fmt"
	"strings"

	ice "github.com/apache/iceberg-go"

	"github.com/hydrant-io/hydrant/sinks/columnar"
)

// TableSchema is the Iceberg schema a table is created with from a
// Hydrant schema file. Every field is optional, as in the Parquet files
// the columnar encoder writes; ids are placeholders, the catalog assigns
// fresh ones.
func TableSchema(s *columnar.Schema) *ice.Schema {
	next := 0
	id := func() int { next++; return next }
	fields := nestedFields(len(s.Columns), func(i int) (string, *columnar.Type) { return s.Columns[i].Name, s.Columns[i].Type }, id)
	return ice.NewSchema(0, fields...)
}

// nestedFields converts the n fields of a struct (or the top-level
// columns), field(i) naming each: ids go to the fields first, then to
// what they contain, as Iceberg numbers them.
func nestedFields(n int, field func(i int) (string, *columnar.Type), id func() int) []ice.NestedField {
	fields := make([]ice.NestedField, n)
	for i := range fields {
		name, _ := field(i)
		fields[i] = ice.NestedField{ID: id(), Name: name}
	}
	for i := range fields {
		_, t := field(i)
		fields[i].Type = icebergType(t, id)
	}
	return fields
}

// icebergType is t in Iceberg's type system. Timestamps are UTC
// (timestamptz), as the converter makes them and as Parquet's
// isAdjustedToUTC says.
func icebergType(t *columnar.Type, id func() int) ice.Type {
	switch t.Kind {
	case columnar.String:
		return ice.PrimitiveTypes.String
	case columnar.Int32:
		return ice.PrimitiveTypes.Int32
	case columnar.Int64:
		return ice.PrimitiveTypes.Int64
	case columnar.Float:
		return ice.PrimitiveTypes.Float32
	case columnar.Double:
		return ice.PrimitiveTypes.Float64
	case columnar.Boolean:
		return ice.PrimitiveTypes.Bool
	case columnar.Timestamp:
		return ice.PrimitiveTypes.TimestampTz
	case columnar.Date:
		return ice.PrimitiveTypes.Date
	case columnar.Decimal:
		return ice.DecimalTypeOf(t.Precision, t.Scale)
	case columnar.Binary:
		return ice.PrimitiveTypes.Binary
	case columnar.List:
		elemID := id()
		return &ice.ListType{ElementID: elemID, Element: icebergType(t.Elem, id)}
	case columnar.Map:
		keyID, valueID := id(), id()
		return &ice.MapType{KeyID: keyID, KeyType: icebergType(t.Key, id), ValueID: valueID, ValueType: icebergType(t.Elem, id)}
	case columnar.Struct:
		fields := nestedFields(len(t.Fields), func(i int) (string, *columnar.Type) { return t.Fields[i].Name, t.Fields[i].Type }, id)
		return &ice.StructType{FieldList: fields}
	}
	panic(fmt.Sprintf("iceberg: no Iceberg type for %v", t.Kind)) // columnar admits no other kind
}

// columnarSchema is the schema of an existing table as a Hydrant schema,
// for a destination configured without a schema file: each column is
// read from the record's field of the same name.
func columnarSchema(name string, s *ice.Schema) (*columnar.Schema, error) {
	var b strings.Builder
	b.WriteString("columns:\n")
	var errs []error
	for _, f := range s.Fields() {
		t, err := hydrantType(f.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", f.Name, err))
			continue
		}
		fmt.Fprintf(&b, "  - { name: %q, type: %q }\n", f.Name, t.String())
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return columnar.ParseSchema(name, []byte(b.String()))
}

// hydrantType is an Iceberg type as a Hydrant schema type.
func hydrantType(t ice.Type) (*columnar.Type, error) {
	prim := func(k columnar.Kind) (*columnar.Type, error) { return &columnar.Type{Kind: k}, nil }
	switch t := t.(type) {
	case ice.StringType:
		return prim(columnar.String)
	case ice.Int32Type:
		return prim(columnar.Int32)
	case ice.Int64Type:
		return prim(columnar.Int64)
	case ice.Float32Type:
		return prim(columnar.Float)
	case ice.Float64Type:
		return prim(columnar.Double)
	case ice.BooleanType:
		return prim(columnar.Boolean)
	case ice.TimestampTzType:
		return prim(columnar.Timestamp)
	case ice.DateType:
		return prim(columnar.Date)
	case ice.DecimalType:
		return &columnar.Type{Kind: columnar.Decimal, Precision: t.Precision(), Scale: t.Scale()}, nil
	case ice.BinaryType:
		return prim(columnar.Binary)
	case *ice.ListType:
		e, err := hydrantType(t.Element)
		return &columnar.Type{Kind: columnar.List, Elem: e}, err
	case *ice.MapType:
		k, err := hydrantType(t.KeyType)
		if err != nil {
			return nil, err
		}
		v, err := hydrantType(t.ValueType)
		return &columnar.Type{Kind: columnar.Map, Key: k, Elem: v}, err
	case *ice.StructType:
		st := &columnar.Type{Kind: columnar.Struct, Fields: make([]columnar.Field, len(t.FieldList))}
		for i, f := range t.FieldList {
			ft, err := hydrantType(f.Type)
			if err != nil {
				return nil, err
			}
			st.Fields[i] = columnar.Field{Name: f.Name, Type: ft}
		}
		return st, nil
	}
	return nil, fmt.Errorf("type %s has no Hydrant schema type (timestamp without zone, time, uuid, fixed and nanosecond types cannot be written yet)", t)
}

// checkCompatible reports why files of schema s cannot be appended to a
// table of schema ts: a column missing from the table or of another type,
// or a required table column the files do not fill.
func checkCompatible(s *columnar.Schema, ts *ice.Schema) error {
	var errs []error
	written := map[string]bool{}
	for _, c := range s.Columns {
		written[c.Name] = true
		f, ok := ts.FindFieldByName(c.Name)
		if !ok {
			errs = append(errs, fmt.Errorf("column %s is not in the table", c.Name))
			continue
		}
		want, err := hydrantType(f.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", c.Name, err))
			continue
		}
		if got := c.Type.String(); got != want.String() {
			errs = append(errs, fmt.Errorf("column %s is %s in the schema file but %s in the table", c.Name, got, want))
		}
	}
	for _, f := range ts.Fields() {
		if f.Required && !written[f.Name] {
			errs = append(errs, fmt.Errorf("the table's required column %s is not in the schema file", f.Name))
		}
	}
	return errors.Join(errs...)
}
