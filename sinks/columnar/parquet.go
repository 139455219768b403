package columnar

import (
	"bytes"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strconv"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// parquetCodecs are the page compressions a Parquet destination may use.
var parquetCodecs = map[string]compress.Codec{
	"none":   &parquet.Uncompressed,
	"snappy": &fastSnappy{},
	"gzip":   &parquet.Gzip,
	"zstd":   &parquet.Zstd,
}

// fastSnappy is parquet's SNAPPY codec with the s2 package's standard
// snappy block encoder in place of the "better" one parquet-go uses:
// about twice as fast for slightly larger pages, which every snappy
// reader decodes.
type fastSnappy struct{ snappy.Codec }

// Encode compresses src into dst's storage when it is large enough.
func (fastSnappy) Encode(dst, src []byte) ([]byte, error) {
	return s2.EncodeSnappy(dst, src), nil
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

// shredder converts records straight into parquet rows (Dremel levels),
// with the converter's rules but without boxing each value. Not safe for
// concurrent use: it reuses its buffers.
type shredder struct {
	c   *converter
	rec *record
	// row collects values in the order they are met, which is column
	// order except inside repeated groups (a map's keys and values
	// interleave); unsorted says a stable sort by column is due.
	row      parquet.Row
	unsorted bool
	vals     []jv         // struct field values: a stack, one frame per open struct
	ents     []entryNodes // map entries: a stack, one frame per open map
}

// entryNodes is a map entry: its key node and value node.
type entryNodes struct{ key, val jv }

func newShredder(c *converter) *shredder {
	return &shredder{c: c, rec: newRecord(c)}
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

// shred appends the parquet row of one record to dst, strings pointing
// into data, and returns the extended dst; it fails with a
// *ConversionError, and then dst's new values are garbage past len(dst).
func (sh *shredder) shred(dst parquet.Row, data []byte) (parquet.Row, error) {
	base := len(dst)
	sh.row, sh.unsorted = dst, false
	sh.vals, sh.ents = sh.vals[:0], sh.ents[:0]
	if err := sh.c.parse(data, sh.rec); err != nil {
		return dst, err
	}
	col := 0
	for i := range sh.c.s.Columns {
		v, err := sh.c.colValue(i, sh.rec)
		if err != nil {
			return dst, err
		}
		c := &sh.c.s.Columns[i]
		var cerr *convErr
		if col, cerr = sh.value(c.Type, v, 0, 0, 0, col, 0); cerr != nil {
			return dst, &ConversionError{Column: c.Name + cerr.path, Reason: cerr.reason}
		}
	}
	if sh.unsorted {
		sortByColumn(sh.row[base:])
	}
	return sh.row, nil
}

// emit appends a value of leaf column col. Values come in column order
// but for the repeated nodes that mark sh.unsorted.
func (sh *shredder) emit(v parquet.Value, rep, def, col int) {
	sh.row = append(sh.row, v.Level(rep, def, col))
}

// sortByColumn orders a row's values by column, keeping each column's
// values in order: an insertion sort, as rows are nearly sorted.
func sortByColumn(row parquet.Row) {
	for i := 1; i < len(row); i++ {
		v := row[i]
		j := i
		for ; j > 0 && row[j-1].Column() > v.Column(); j-- {
			row[j] = row[j-1]
		}
		row[j] = v
	}
}

// value emits v, an optional node of type t, at repetition level rep with
// the definition level def of its parent; repDepth is the repetition
// level of the innermost repeated ancestor and depth the nesting of t.
// It returns the next leaf index.
func (sh *shredder) value(t *Type, v jv, rep, def, repDepth, col, depth int) (int, *convErr) {
	if v.isNull() {
		return sh.nulls(t, rep, def, col), nil
	}
	if depth > maxTypeDepth {
		return col, failf("nested too deep")
	}
	def++ // this optional node is present
	switch t.Kind {
	case List:
		return sh.list(t, v, rep, def, repDepth, col, depth)
	case Map:
		return sh.mapValue(t, v, rep, def, repDepth, col, depth)
	case Struct:
		return sh.structValue(t, v, rep, def, repDepth, col, depth)
	}
	if err := sh.leaf(t, v, rep, def, col); err != nil {
		return col, err
	}
	return col + 1, nil
}

func (sh *shredder) list(t *Type, v jv, rep, def, repDepth, col, depth int) (int, *convErr) {
	if v.kind() != jArray {
		return col, failf("want an array, got %s", describe(v))
	}
	e, end := v.members()
	if e == end {
		return sh.nulls(t.Elem, rep, def, col), nil
	}
	next := col
	for n := 0; e < end; n++ {
		r := rep
		if n > 0 {
			r = repDepth + 1
			// each element starts again at column col
			sh.unsorted = sh.unsorted || !isLeaf(t.Elem)
		}
		var err *convErr
		if next, err = sh.value(t.Elem, v.d.at(e), r, def+1, repDepth+1, col, depth+1); err != nil {
			return col, within(err, "["+strconv.Itoa(n)+"]")
		}
		e = v.d.nodes[e].next
	}
	return next, nil
}

func (sh *shredder) structValue(t *Type, v jv, rep, def, repDepth, col, depth int) (int, *convErr) {
	base := len(sh.vals)
	for range t.Fields {
		sh.vals = append(sh.vals, jv{})
	}
	vals := sh.vals[base:] // stays valid if nested structs grow sh.vals
	if err := sh.c.fields(t, v, vals, sh.rec); err != nil {
		return col, err
	}
	for i, f := range t.Fields {
		var err *convErr
		if col, err = sh.value(f.Type, vals[i], rep, def, repDepth, col, depth+1); err != nil {
			return col, within(err, "."+f.Name)
		}
	}
	sh.vals = sh.vals[:base]
	return col, nil
}

func (sh *shredder) mapValue(t *Type, v jv, rep, def, repDepth, col, depth int) (int, *convErr) {
	if v.kind() != jObject {
		return col, failf("want an object, got %s", describe(v))
	}
	base := len(sh.ents)
	if sh.dedupe(v) {
		// Fail as the converter does: on the first bad entry in document
		// order, even one whose key a later duplicate overrides.
		if _, err := sh.c.mapValue(t, v, depth); err != nil {
			return col, err
		}
	}
	ents := sh.ents[base:]
	if len(ents) == 0 {
		sh.emit(parquet.Value{}, rep, def, col)
		return sh.nulls(t.Elem, rep, def, col+1), nil
	}
	if depth+1 > maxTypeDepth {
		return col, within(failf("nested too deep"), keySegment(ents[0].key))
	}
	if isLeaf(t.Elem) {
		return sh.leafEntries(t, ents, rep, def, repDepth, col)
	}
	sh.unsorted = sh.unsorted || len(ents) > 1 // each entry starts again at column col
	next := col
	for i, e := range ents {
		r := rep
		if i > 0 {
			r = repDepth + 1
		}
		if err := sh.leaf(t.Key, e.key, r, def+1, col); err != nil {
			return col, within(err, keySegment(e.key))
		}
		var err *convErr
		if next, err = sh.value(t.Elem, e.val, r, def+1, repDepth+1, col+1, depth+1); err != nil {
			return col, within(err, keySegment(e.key))
		}
	}
	sh.ents = sh.ents[:base]
	return next, nil
}

// leafEntries emits a map's keys and then its values, which keeps the
// row in column order, for a map of primitive values. It fails on the
// first bad entry, key or value, as the entry-by-entry order would.
func (sh *shredder) leafEntries(t *Type, ents []entryNodes, rep, def, repDepth, col int) (int, *convErr) {
	base := len(sh.ents) - len(ents)
	r := rep
	for i, e := range ents {
		if err := sh.leaf(t.Key, e.key, r, def+1, col); err != nil {
			// an earlier entry's value fails first
			for _, p := range ents[:i] {
				if _, verr := sh.leafOrNull(t.Elem, p.val); verr != nil {
					return col, within(verr, keySegment(p.key))
				}
			}
			return col, within(err, keySegment(e.key))
		}
		r = repDepth + 1
	}
	r = rep
	for _, e := range ents {
		pv, err := sh.leafOrNull(t.Elem, e.val)
		if err != nil {
			return col, within(err, keySegment(e.key))
		}
		d := def + 1 // the entry is present
		if !e.val.isNull() {
			d++ // and so is its optional value
		}
		sh.emit(pv, r, d, col+1)
		r = repDepth + 1
	}
	sh.ents = sh.ents[:base]
	return col + 2, nil
}

// leafOrNull is v's parquet value as primitive t, a null value for null.
func (sh *shredder) leafOrNull(t *Type, v jv) (parquet.Value, *convErr) {
	if v.isNull() {
		return parquet.Value{}, nil
	}
	return leafValue(t, v)
}

func isLeaf(t *Type) bool { return t.Kind != List && t.Kind != Map && t.Kind != Struct }

// linearDedupe is the map size up to which duplicate keys are found by
// comparing with each earlier key rather than by hashing.
const linearDedupe = 16

// dedupe pushes v's entries onto sh.ents in first-key order, each with
// its last value (as in encoding/json), and reports whether any key was
// duplicated.
func (sh *shredder) dedupe(v jv) bool {
	base := len(sh.ents)
	dup := false
	var seen map[string]int // index into sh.ents, past linearDedupe
	for k, end := v.members(); k < end; k = v.d.nodes[k+1].next {
		key, val := v.d.at(k), v.d.at(k+1)
		name := key.str()
		at := -1
		if seen != nil {
			if i, ok := seen[string(name)]; ok {
				at = i
			}
		} else {
			for i := base; i < len(sh.ents); i++ {
				if bytes.Equal(sh.ents[i].key.str(), name) {
					at = i
					break
				}
			}
		}
		if at >= 0 {
			sh.ents[at].val = val
			dup = true
			continue
		}
		sh.ents = append(sh.ents, entryNodes{key, val})
		if seen == nil && len(sh.ents)-base > linearDedupe {
			seen = make(map[string]int, 2*linearDedupe)
			for i := base; i < len(sh.ents); i++ {
				seen[string(sh.ents[i].key.str())] = i
			}
		} else if seen != nil {
			seen[string(name)] = len(sh.ents) - 1
		}
	}
	return dup
}

// nulls emits a null at definition level def for every leaf under t.
func (sh *shredder) nulls(t *Type, rep, def, col int) int {
	n := leaves(t)
	for i := col; i < col+n; i++ {
		sh.emit(parquet.Value{}, rep, def, i)
	}
	return col + n
}

// leaf emits v, not null, as the physical parquet value of primitive t.
func (sh *shredder) leaf(t *Type, v jv, rep, def, col int) *convErr {
	pv, err := leafValue(t, v)
	if err != nil {
		return err
	}
	sh.emit(pv, rep, def, col)
	return nil
}

// leafValue converts v, not null, to primitive t's physical parquet
// value, by the rules of scalarValue.
func leafValue(t *Type, v jv) (parquet.Value, *convErr) {
	switch t.Kind {
	case String:
		return parquet.ByteArrayValue(toText(v)), nil
	case Binary:
		b, err := toBinary(v)
		return parquet.ByteArrayValue(b), err
	case Int32:
		n, err := toInt(t, v)
		return parquet.Int32Value(int32(n)), err
	case Int64:
		n, err := toInt(t, v)
		return parquet.Int64Value(n), err
	case Date:
		d, err := parseDate(v)
		return parquet.Int32Value(d), err
	case Timestamp:
		us, err := parseTimestamp(v)
		return parquet.Int64Value(us), err
	case Float:
		f, err := toFloat(t, v)
		return parquet.FloatValue(float32(f)), err
	case Double:
		f, err := toFloat(t, v)
		return parquet.DoubleValue(f), err
	case Boolean:
		b, err := toBool(v)
		return parquet.BooleanValue(b), err
	case Decimal:
		return decimalValue(t, v)
	}
	return parquet.Value{}, failf("unsupported type %s", t)
}

// decimalValue is a decimal's parquet value: INT32 or INT64 up to
// precision 18 (converted without big.Int when the text is plain),
// otherwise fixed-length two's complement.
func decimalValue(t *Type, v jv) (parquet.Value, *convErr) {
	if t.Precision <= 18 {
		if text, ok := numberText(v); ok {
			if n, ok := fastDecimal(text, t.Precision, t.Scale); ok {
				if t.Precision <= 9 {
					return parquet.Int32Value(int32(n)), nil
				}
				return parquet.Int64Value(n), nil
			}
		}
	}
	b, err := toDecimal(t, v)
	if err != nil {
		return parquet.Value{}, err
	}
	switch {
	case t.Precision <= 9:
		return parquet.Int32Value(int32(b.Int64())), nil
	case t.Precision <= 18:
		return parquet.Int64Value(b.Int64()), nil
	}
	return parquet.FixedLenByteArrayValue(twosComplement(b, decimalBytes(t.Precision))), nil
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

// Pending rows are handed to parquet-go in batches, which costs less per
// row than one call each; a batch ends at batchRows rows or batchBytes of
// records, whichever comes first.
const (
	batchRows  = 64
	batchBytes = 1 << 20
)

// parquetFile writes one Parquet file.
type parquetFile struct {
	w  *parquet.GenericWriter[any]
	sh *shredder
	// recs holds the records of the pending rows, whose strings point
	// into it; a record is copied because the caller may reuse its buffer
	// as soon as Write returns.
	recs []byte
	// vals holds the pending rows' values, one after another, and then
	// the converted row not yet written; rows are shredded in place,
	// which saves copying each.
	vals parquet.Row
	ends []int         // where each pending row ends in vals
	rows []parquet.Row // the pending rows, for WriteRows
}

func newParquetFile(w io.Writer, e *Encoder) *parquetFile {
	// rows are built by hand (WriteRows), so the type parameter is unused
	pw := parquet.NewGenericWriter[any](w, e.pqSchema,
		parquet.Compression(e.pqCodec),
		parquet.CreatedBy("hydrant", "", ""),
		// Page headers would repeat the column index's min and max at the
		// cost of a second pass over each page.
		parquet.DataPageStatistics(false),
		// Pages that stay in L2 cache while they are encoded and
		// compressed.
		parquet.PageBufferSize(pageBytes))
	return &parquetFile{w: pw, sh: newShredder(e.conv)}
}

// pageBytes is the target size of a Parquet data page.
const pageBytes = 64 << 10

// pendingEnd is where the pending rows end in f.vals (and the converted
// row starts).
func (f *parquetFile) pendingEnd() int {
	if len(f.ends) == 0 {
		return 0
	}
	return f.ends[len(f.ends)-1]
}

func (f *parquetFile) convert(data []byte) error {
	start := len(f.recs)
	// A reallocation leaves earlier pending rows on the old array, which
	// they keep alive.
	f.recs = append(f.recs, data...)
	// Drop a converted row that was never written (a failed or panicked
	// conversion).
	vals, err := f.sh.shred(f.vals[:f.pendingEnd()], f.recs[start:])
	f.vals = vals
	if err != nil {
		f.recs = f.recs[:start]
		return err
	}
	return nil
}

// writeRow adds the converted row to the batch, writing the batch once
// it is full.
func (f *parquetFile) writeRow() error {
	f.ends = append(f.ends, len(f.vals))
	if len(f.ends) >= batchRows || len(f.recs) >= batchBytes {
		return f.writePending()
	}
	return nil
}

// writePending hands the pending rows to parquet-go, which copies them.
func (f *parquetFile) writePending() error {
	if len(f.ends) == 0 {
		return nil
	}
	f.rows = f.rows[:0]
	start := 0
	for _, end := range f.ends {
		f.rows = append(f.rows, f.vals[start:end:end])
		start = end
	}
	_, err := f.w.WriteRows(f.rows)
	clear(f.vals[:cap(f.vals)]) // drop references to the records, also a failed row's
	f.recs, f.vals, f.ends = f.recs[:0], f.vals[:0], f.ends[:0]
	return err
}

func (f *parquetFile) flush() error {
	if err := f.writePending(); err != nil {
		return err
	}
	return f.w.Flush()
}

func (f *parquetFile) close() error {
	if err := f.writePending(); err != nil {
		return err
	}
	return f.w.Close()
}
