package columnar

import (
	"fmt"
	"io"
	"math/big"
	"reflect"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// parquetCodecs are the page compressions a Parquet destination may use.
var parquetCodecs = map[string]compress.Codec{
	"none":   &parquet.Uncompressed,
	"snappy": &parquet.Snappy,
	"gzip":   &parquet.Gzip,
	"zstd":   &parquet.Zstd,
}

// parquetSchema builds the file schema: every column optional, lists and
// maps in the standard three-level layout, columns and struct fields in
// declaration order.
func parquetSchema(s *Schema) *parquet.Schema {
	fields := make([]parquet.Field, len(s.Columns))
	for i, c := range s.Columns {
		fields[i] = &orderedField{Node: parquet.Optional(parquetNode(c.Type)), name: c.Name}
	}
	return parquet.NewSchema("hydrant", &orderedGroup{fields: fields})
}

func parquetNode(t *Type) parquet.Node {
	switch t.Kind {
	case String:
		return parquet.String()
	case Int32:
		return parquet.Int(32)
	case Int64:
		return parquet.Int(64)
	case Float:
		return parquet.Leaf(parquet.FloatType)
	case Double:
		return parquet.Leaf(parquet.DoubleType)
	case Boolean:
		return parquet.Leaf(parquet.BooleanType)
	case Timestamp:
		return parquet.Timestamp(parquet.Microsecond)
	case Date:
		return parquet.Date()
	case Decimal:
		switch {
		case t.Precision <= 9:
			return parquet.Decimal(t.Scale, t.Precision, parquet.Int32Type)
		case t.Precision <= 18:
			return parquet.Decimal(t.Scale, t.Precision, parquet.Int64Type)
		}
		return parquet.Decimal(t.Scale, t.Precision, parquet.FixedLenByteArrayType(decimalBytes(t.Precision)))
	case Binary:
		return parquet.Leaf(parquet.ByteArrayType)
	case List:
		return parquet.List(parquet.Optional(parquetNode(t.Elem)))
	case Map:
		return parquet.Map(parquetNode(t.Key), parquet.Optional(parquetNode(t.Elem)))
	case Struct:
		fields := make([]parquet.Field, len(t.Fields))
		for i, f := range t.Fields {
			fields[i] = &orderedField{Node: parquet.Optional(parquetNode(f.Type)), name: f.Name}
		}
		return &orderedGroup{fields: fields}
	}
	panic(fmt.Sprintf("columnar: parquet node for %v", t.Kind)) // ParseType admits no other kind
}

// decimalBytes is the smallest two's complement width holding p digits.
func decimalBytes(p int) int {
	n := 1
	for new(big.Int).Lsh(big.NewInt(1), uint(8*n-1)).Cmp(pow10[p]) < 0 {
		n++
	}
	return n
}

// orderedGroup is a parquet group that keeps its fields in declaration
// order (parquet.Group sorts them by name).
type orderedGroup struct {
	parquet.Group // for Type, Optional, Encoding, ...: a plain required group
	fields        []parquet.Field
}

func (g *orderedGroup) Fields() []parquet.Field { return g.fields }

func (g *orderedGroup) String() string { return fmt.Sprintf("group(%d fields)", len(g.fields)) }

func (g *orderedGroup) GoType() reflect.Type {
	// Only the reflection-based writers use it; rows are built by hand here.
	return reflect.TypeFor[map[string]any]()
}

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string { return f.name }

func (f *orderedField) Value(base reflect.Value) reflect.Value {
	if base.Kind() == reflect.Map {
		return base.MapIndex(reflect.ValueOf(f.name))
	}
	return reflect.Value{}
}

// shredder turns typed rows into parquet rows (Dremel levels). Not safe
// for concurrent use: it reuses its column buffers.
type shredder struct {
	s    *Schema
	cols [][]parquet.Value // per leaf column, this row's values
	row  parquet.Row
}

func newShredder(s *Schema) *shredder {
	n := 0
	for _, c := range s.Columns {
		n += leaves(c.Type)
	}
	return &shredder{s: s, cols: make([][]parquet.Value, n)}
}

func leaves(t *Type) int {
	switch t.Kind {
	case List:
		return leaves(t.Elem)
	case Map:
		return 1 + leaves(t.Elem)
	case Struct:
		n := 0
		for _, f := range t.Fields {
			n += leaves(f.Type)
		}
		return n
	}
	return 1
}

// shred returns the parquet row of one typed row; it is valid until the
// next call.
func (sh *shredder) shred(row []any) parquet.Row {
	for i := range sh.cols {
		sh.cols[i] = sh.cols[i][:0]
	}
	col := 0
	for i, c := range sh.s.Columns {
		col = sh.value(c.Type, row[i], 0, 0, 0, col)
	}
	sh.row = sh.row[:0]
	for _, vs := range sh.cols {
		sh.row = append(sh.row, vs...)
	}
	return sh.row
}

// value emits v, an optional node of type t, at repetition level rep with
// the definition level def of its parent; repDepth is the repetition
// level of the innermost repeated ancestor. It returns the next leaf index.
func (sh *shredder) value(t *Type, v any, rep, def, repDepth, col int) int {
	if v == nil {
		return sh.nulls(t, rep, def, col)
	}
	def++ // this optional node is present
	switch t.Kind {
	case List:
		items := v.([]any)
		if len(items) == 0 {
			return sh.nulls(t.Elem, rep, def, col)
		}
		next := col
		for i, x := range items {
			r := rep
			if i > 0 {
				r = repDepth + 1
			}
			next = sh.value(t.Elem, x, r, def+1, repDepth+1, col)
		}
		return next
	case Map:
		entries := v.([]entry)
		if len(entries) == 0 {
			sh.cols[col] = append(sh.cols[col], parquet.Value{}.Level(rep, def, col))
			return sh.nulls(t.Elem, rep, def, col+1)
		}
		next := col
		for i, e := range entries {
			r := rep
			if i > 0 {
				r = repDepth + 1
			}
			sh.cols[col] = append(sh.cols[col], leafValue(t.Key, e.Key).Level(r, def+1, col))
			next = sh.value(t.Elem, e.Value, r, def+1, repDepth+1, col+1)
		}
		return next
	case Struct:
		fields := v.([]any)
		for i, f := range t.Fields {
			col = sh.value(f.Type, fields[i], rep, def, repDepth, col)
		}
		return col
	}
	sh.cols[col] = append(sh.cols[col], leafValue(t, v).Level(rep, def, col))
	return col + 1
}

// nulls emits a null at definition level def for every leaf under t.
func (sh *shredder) nulls(t *Type, rep, def, col int) int {
	n := leaves(t)
	for i := col; i < col+n; i++ {
		sh.cols[i] = append(sh.cols[i], parquet.Value{}.Level(rep, def, i))
	}
	return col + n
}

// leafValue converts a typed value to its physical parquet value.
func leafValue(t *Type, v any) parquet.Value {
	switch t.Kind {
	case String:
		return parquet.ByteArrayValue([]byte(v.(string)))
	case Binary:
		return parquet.ByteArrayValue(v.([]byte))
	case Int32, Date:
		return parquet.Int32Value(v.(int32))
	case Int64, Timestamp:
		return parquet.Int64Value(v.(int64))
	case Float:
		return parquet.FloatValue(v.(float32))
	case Double:
		return parquet.DoubleValue(v.(float64))
	case Boolean:
		return parquet.BooleanValue(v.(bool))
	case Decimal:
		b := v.(*big.Int)
		switch {
		case t.Precision <= 9:
			return parquet.Int32Value(int32(b.Int64()))
		case t.Precision <= 18:
			return parquet.Int64Value(b.Int64())
		}
		return parquet.FixedLenByteArrayValue(twosComplement(b, decimalBytes(t.Precision)))
	}
	panic(fmt.Sprintf("columnar: leaf value of %v", t.Kind))
}

// twosComplement returns b big-endian in n bytes.
func twosComplement(b *big.Int, n int) []byte {
	out := make([]byte, n)
	if b.Sign() >= 0 {
		b.FillBytes(out)
		return out
	}
	// -x = ^(x-1)
	m := new(big.Int).Neg(b)
	m.Sub(m, big.NewInt(1))
	m.FillBytes(out)
	for i := range out {
		out[i] = ^out[i]
	}
	return out
}

// parquetFile writes one Parquet file.
type parquetFile struct {
	w  *parquet.GenericWriter[any]
	sh *shredder
	rs []parquet.Row
}

func newParquetFile(w io.Writer, schema *parquet.Schema, codec compress.Codec, s *Schema) *parquetFile {
	// rows are built by hand (WriteRows), so the type parameter is unused
	pw := parquet.NewGenericWriter[any](w, schema, parquet.Compression(codec), parquet.CreatedBy("hydrant", "", ""))
	return &parquetFile{w: pw, sh: newShredder(s), rs: make([]parquet.Row, 1)}
}

func (f *parquetFile) writeRow(row []any) error {
	f.rs[0] = f.sh.shred(row)
	_, err := f.w.WriteRows(f.rs)
	return err
}

func (f *parquetFile) flush() error { return f.w.Flush() }
func (f *parquetFile) close() error { return f.w.Close() }
