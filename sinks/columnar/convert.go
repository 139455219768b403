package columnar

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/hydrant-io/hydrant/sinks/columnar/orc"
	"github.com/itchyny/gojq"
)

// ConversionError is a record that does not fit the schema. The file being
// written stays valid; the record is not in it.
type ConversionError struct {
	// Column is the path of the offending value, e.g. "device.version",
	// "tags[2]" or `attrs["k"]`; empty when the record as a whole is bad.
	Column string
	// Reason says what is wrong.
	Reason string
}

func (e *ConversionError) Error() string {
	if e.Column == "" {
		return "format conversion: " + e.Reason
	}
	return "format conversion: column " + e.Column + ": " + e.Reason
}

// convErr is a conversion failure on its way up the type tree; path is
// built from the inside out, only when something failed.
type convErr struct {
	path   string
	reason string
}

func (e *convErr) Error() string { return e.reason }

func failf(format string, args ...any) *convErr {
	return &convErr{reason: fmt.Sprintf(format, args...)}
}

// within prefixes err's path with seg.
func within(err *convErr, seg string) *convErr {
	err.path = seg + err.path
	return err
}

// The typed value of each kind, as converters produce them and the format
// writers consume them; nil is null everywhere.
//
//	String: string      Int32: int32      Int64: int64
//	Float: float32      Double: float64   Boolean: bool
//	Timestamp: int64 µs since the epoch, UTC
//	Date: int32 days since 1970-01-01
//	Decimal: *big.Int unscaled (value × 10^Scale)
//	Binary: []byte      List: []any       Struct: []any (field order)
//	Map: []entry (document order, distinct keys)
//
// These are the value types of package orc, which consumes rows as is.
type entry = orc.KeyValue

// Bounds of a timestamp: years 0001 to 9999, as Hive, Parquet and ORC
// readers all accept.
const (
	minMicros int64 = -62135596800_000000
	maxMicros int64 = 253402300800_000000 - 1
	// epochMillisAbove: an epoch number above this is milliseconds.
	epochMillisAbove = 1e11
)

// converter turns JSON records into typed rows. It is immutable.
type converter struct {
	s       *Schema
	top     fieldIndex
	structs map[*Type]*fieldIndex
	hasJQ   bool
}

func newConverter(s *Schema) *converter {
	c := &converter{s: s, structs: map[*Type]*fieldIndex{}, hasJQ: s.needsDocument()}
	names := make([]string, len(s.Columns))
	for i, col := range s.Columns {
		names[i] = col.Name
		c.index(col.Type)
	}
	c.top = newFieldIndex(len(c.structs), names, s.CaseInsensitive)
	return c
}

func (c *converter) index(t *Type) {
	switch t.Kind {
	case List, Map:
		c.index(t.Elem)
	case Struct:
		names := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			names[i] = f.Name
			c.index(f.Type)
		}
		fi := newFieldIndex(len(c.structs), names, c.s.CaseInsensitive)
		c.structs[t] = &fi
	}
}

// record is a Writer's scratch for converting records, reused between
// them so that the steady state allocates little.
type record struct {
	doc   doc
	jq    doc       // a jq column's result
	cols  []jv      // the record's value of each column
	hints [][]int32 // hints[fi.id]: the key order fieldIndex fi saw last (see lookup)
	obj   any       // the record decoded for jq; nil until a column needs it
	data  []byte    // the record, for jq
}

func newRecord(c *converter) *record {
	return &record{cols: make([]jv, len(c.s.Columns)), hints: make([][]int32, len(c.structs)+1)}
}

// parse scans data and finds each column's raw value (jq columns are
// evaluated by column, see colValue).
func (c *converter) parse(data []byte, r *record) error {
	if !r.doc.scan(data) {
		return &ConversionError{Reason: "record is not valid JSON"}
	}
	if r.doc.root().kind() != jObject {
		return &ConversionError{Reason: "record is not a JSON object"}
	}
	r.data, r.obj = data, nil
	c.top.lookup(r.doc.root(), r.cols, &r.hints[c.top.id])
	return nil
}

// colValue returns column i's JSON value: the record's field, or the
// result of the column's jq expression.
func (c *converter) colValue(i int, r *record) (jv, error) {
	col := &c.s.Columns[i]
	if col.code == nil {
		return r.cols[i], nil
	}
	if r.obj == nil {
		d := json.NewDecoder(bytes.NewReader(r.data))
		d.UseNumber()
		if err := d.Decode(&r.obj); err != nil {
			return jv{}, &ConversionError{Reason: "record is not valid JSON: " + err.Error()}
		}
	}
	v, err := runJQ(col.code, r.obj, &r.jq)
	if err != nil {
		return jv{}, &ConversionError{Column: col.Name, Reason: err.Error()}
	}
	return v, nil
}

// row converts one record into typed values, row[i] for column i
// (len(row) == len(Columns)).
func (c *converter) row(data []byte, row []any, r *record) error {
	if err := c.parse(data, r); err != nil {
		return err
	}
	r.doc.text = string(data) // string values share this copy
	for i := range c.s.Columns {
		x, err := c.column(i, r)
		if err != nil {
			return err
		}
		row[i] = x
	}
	return nil
}

// column converts column i of the parsed record r.
func (c *converter) column(i int, r *record) (any, error) {
	v, err := c.colValue(i, r)
	if err != nil {
		return nil, err
	}
	x, cerr := c.value(c.s.Columns[i].Type, v, 0)
	if cerr != nil {
		return nil, &ConversionError{Column: c.s.Columns[i].Name + cerr.path, Reason: cerr.reason}
	}
	return x, nil
}

// runJQ returns the expression's first output as a value of d (missing
// when none or null).
func runJQ(code *gojq.Code, obj any, d *doc) (jv, error) {
	out, ok := code.Run(obj).Next()
	if !ok {
		return jv{}, nil
	}
	switch v := out.(type) {
	case error:
		return jv{}, fmt.Errorf("jq: %w", v)
	case nil:
		return jv{}, nil
	case bool:
		if v {
			return d.token(jTrue, "true"), nil
		}
		return d.token(jFalse, "false"), nil
	case string:
		return d.bareString(v), nil
	case json.Number:
		return d.token(jNumber, string(v)), nil
	case int:
		return d.token(jNumber, strconv.Itoa(v)), nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return jv{}, fmt.Errorf("jq result: %w", err)
	}
	if !d.scan(b) {
		return jv{}, fmt.Errorf("jq result: invalid JSON %q", b) // json.Marshal writes none
	}
	return d.root(), nil
}

// value converts v to t's typed value (see the table above).
func (c *converter) value(t *Type, v jv, depth int) (any, *convErr) {
	if v.isNull() {
		return nil, nil
	}
	if depth > maxTypeDepth {
		return nil, failf("nested too deep")
	}
	switch t.Kind {
	case List:
		return c.list(t, v, depth)
	case Struct:
		return c.structValue(t, v, depth)
	case Map:
		return c.mapValue(t, v, depth)
	}
	return scalarValue(t, v)
}

// scalarValue converts v (not null) to a primitive t's typed value.
func scalarValue(t *Type, v jv) (any, *convErr) {
	switch t.Kind {
	case String:
		return v.text(), nil
	case Int32, Int64:
		n, err := toInt(t, v)
		if err != nil {
			return nil, err
		}
		if t.Kind == Int32 {
			return int32(n), nil
		}
		return n, nil
	case Float, Double:
		f, err := toFloat(t, v)
		if err != nil {
			return nil, err
		}
		if t.Kind == Float {
			return float32(f), nil
		}
		return f, nil
	case Boolean:
		b, err := toBool(v)
		if err != nil {
			return nil, err
		}
		return b, nil
	case Timestamp:
		return boxed(parseTimestamp(v))
	case Date:
		return boxed(parseDate(v))
	case Decimal:
		if text, ok := numberText(v); ok {
			if n, ok := fastDecimal(text, t.Precision, t.Scale); ok {
				return big.NewInt(n), nil // far fewer allocations than toDecimal
			}
		}
		return boxed(toDecimal(t, v))
	case Binary:
		return boxed(toBinary(v))
	}
	return nil, failf("unsupported type %s", t)
}

// boxed turns a typed result into an any, keeping a nil for an error.
func boxed[T any](x T, err *convErr) (any, *convErr) {
	if err != nil {
		return nil, err
	}
	return x, nil
}

func (c *converter) list(t *Type, v jv, depth int) (any, *convErr) {
	if v.kind() != jArray {
		return nil, failf("want an array, got %s", describe(v))
	}
	n := 0
	for e, end := v.members(); e < end; e = v.d.nodes[e].next {
		n++
	}
	out := make([]any, 0, n)
	for e, end := v.members(); e < end; e = v.d.nodes[e].next {
		x, err := c.value(t.Elem, v.d.at(e), depth+1)
		if err != nil {
			return nil, within(err, "["+strconv.Itoa(len(out))+"]")
		}
		out = append(out, x)
	}
	return out, nil
}

// fields looks up a struct's field values in v, an object, with r's
// hints unless r is nil.
func (c *converter) fields(t *Type, v jv, vals []jv, r *record) *convErr {
	if v.kind() != jObject {
		return failf("want an object, got %s", describe(v))
	}
	fi := c.structs[t]
	if fi == nil {
		return failf("struct type not indexed") // a Type built by hand after NewEncoder
	}
	var hint *[]int32
	if r != nil && fi.id < len(r.hints) {
		hint = &r.hints[fi.id]
	}
	fi.lookup(v, vals, hint)
	return nil
}

func (c *converter) structValue(t *Type, v jv, depth int) (any, *convErr) {
	vals := make([]jv, len(t.Fields))
	if err := c.fields(t, v, vals, nil); err != nil {
		return nil, err
	}
	out := make([]any, len(t.Fields))
	for i, f := range t.Fields {
		x, err := c.value(f.Type, vals[i], depth+1)
		if err != nil {
			return nil, within(err, "."+f.Name)
		}
		out[i] = x
	}
	return out, nil
}

func (c *converter) mapValue(t *Type, v jv, depth int) (any, *convErr) {
	if v.kind() != jObject {
		return nil, failf("want an object, got %s", describe(v))
	}
	n := 0
	for k, end := v.members(); k < end; k = v.d.nodes[k+1].next {
		n++
	}
	out := make([]entry, 0, n)
	// Duplicate keys are found by comparing with each earlier key in a
	// small map, which saves building a Go map per value.
	var seen map[string]int
	var nameBuf [linearDedupe][]byte
	names := nameBuf[:0] // out[i]'s key text, without seen
	if n > linearDedupe {
		seen = make(map[string]int, n)
	}
	for k, end := v.members(); k < end; k = v.d.nodes[k+1].next {
		key, err := c.value(t.Key, v.d.at(k), depth+1)
		if err != nil {
			return nil, within(err, keySegment(v.d.at(k)))
		}
		val, err := c.value(t.Elem, v.d.at(k+1), depth+1)
		if err != nil {
			return nil, within(err, keySegment(v.d.at(k)))
		}
		name := v.d.at(k).str()
		if i := findName(names, seen, name); i >= 0 {
			out[i].Value = val // the last duplicate wins, as in encoding/json
			continue
		}
		if seen != nil {
			seen[string(name)] = len(out)
		} else {
			names = append(names, name)
		}
		out = append(out, entry{Key: key, Value: val})
	}
	return out, nil
}

// findName returns the index of name in seen if there is one, else in
// names, or -1.
func findName(names [][]byte, seen map[string]int, name []byte) int {
	if seen != nil {
		if i, ok := seen[string(name)]; ok {
			return i
		}
		return -1
	}
	for i, n := range names {
		if bytes.Equal(n, name) {
			return i
		}
	}
	return -1
}

// keySegment is the error path segment of a map key.
func keySegment(k jv) string { return "[" + strconv.Quote(string(k.str())) + "]" }

// describe names a JSON value's kind for an error message.
func describe(v jv) string {
	switch v.kind() {
	case jString:
		s := v.str()
		if len(s) > 40 {
			return fmt.Sprintf("string %q...", s[:40])
		}
		return fmt.Sprintf("string %q", s)
	case jNumber:
		return "number " + string(v.raw())
	case jTrue, jFalse:
		return "boolean"
	case jArray:
		return "array"
	}
	return "object"
}

// toText is a string column's text: a string's content, or any other
// value's JSON text, as OpenX does.
func toText(v jv) []byte {
	if v.kind() == jString {
		return v.str()
	}
	return v.raw()
}

func toInt(t *Type, v jv) (int64, *convErr) {
	text, ok := numberText(v)
	if !ok {
		return 0, failf("want an integer, got %s", describe(v))
	}
	bits := 64
	if t.Kind == Int32 {
		bits = 32
	}
	if n, ok := fastInt(text, bits); ok {
		return n, nil
	}
	return parseInt(string(text), bits)
}

// fastInt parses a plain -?[0-9]{1,18} that fits bits; anything else is
// left to parseInt.
func fastInt(text []byte, bits int) (int64, bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	if len(text) == 0 || len(text) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range text {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if bits == 32 && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, false
	}
	return n, true
}

func toFloat(t *Type, v jv) (float64, *convErr) {
	text, ok := numberText(v)
	if !ok {
		return 0, failf("want a number, got %s", describe(v))
	}
	bits := 64
	if t.Kind == Float {
		bits = 32
	}
	f, err := strconv.ParseFloat(string(text), bits)
	if err != nil {
		return 0, failf("%q is not a %s", text, t.Kind)
	}
	return f, nil
}

func toBool(v jv) (bool, *convErr) {
	switch v.kind() {
	case jTrue:
		return true, nil
	case jFalse:
		return false, nil
	case jString:
		switch s := v.str(); {
		case bytes.EqualFold(s, []byte("true")):
			return true, nil
		case bytes.EqualFold(s, []byte("false")):
			return false, nil
		}
	}
	return false, failf("want a boolean, got %s", describe(v))
}

func toDecimal(t *Type, v jv) (*big.Int, *convErr) {
	text, ok := numberText(v)
	if !ok {
		return nil, failf("want a decimal number, got %s", describe(v))
	}
	return parseDecimal(string(text), t.Precision, t.Scale)
}

func toBinary(v jv) ([]byte, *convErr) {
	if v.kind() != jString {
		return nil, failf("want a base64 string, got %s", describe(v))
	}
	return decodeBase64(v.text())
}

// numberText returns the text of a JSON number, or of a string holding
// one (OpenX accepts quoted numbers).
func numberText(v jv) ([]byte, bool) {
	switch v.kind() {
	case jNumber:
		return v.raw(), true
	case jString:
		return bytes.TrimSpace(v.str()), true
	}
	return nil, false
}

// parseInt parses an integer that must fit bits, also written as 1.0 or
// 1e3, but never truncates a fraction.
func parseInt(text string, bits int) (int64, *convErr) {
	if n, err := strconv.ParseInt(text, 10, bits); err == nil {
		return n, nil
	}
	num, ok := splitNumber(text)
	if !ok {
		return 0, failf("%q is not an integer", text)
	}
	b, err := num.scaled(0, true)
	if err != nil {
		return 0, err
	}
	if !b.IsInt64() || bits == 32 && (b.Int64() < math.MinInt32 || b.Int64() > math.MaxInt32) {
		return 0, failf("%s out of range for int%d", text, bits)
	}
	return b.Int64(), nil
}

// number is a decimal number split as (-1)^neg × digits × 10^exp.
type number struct {
	neg    bool
	digits string // no leading zeros; "" is zero
	exp    int
}

// splitNumber parses [+-]digits[.digits][(e|E)[+-]digits].
func splitNumber(s string) (number, bool) {
	var n number
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		n.neg = s[i] == '-'
		i++
	}
	var digits []byte
	seen := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits = append(digits, s[i])
		seen = true
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits = append(digits, s[i])
			n.exp--
			seen = true
		}
	}
	if !seen {
		return n, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		start := i
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if i == len(s) || i-start > 6 {
			return n, false
		}
		e, err := strconv.Atoi(s[start:])
		if err != nil {
			return n, false
		}
		n.exp += e
		i = len(s)
	}
	if i != len(s) {
		return n, false
	}
	n.digits = strings.TrimLeft(string(digits), "0")
	return n, true
}

// maxScaledDigits caps the digits a scaled number may have before it is
// rejected, so that 1e999999 never allocates a million digits.
const maxScaledDigits = 40

// scaled returns round(n × 10^scale) rounding half away from zero, or,
// if exact, fails when that would drop non-zero digits.
func (n number) scaled(scale int, exact bool) (*big.Int, *convErr) {
	shift := n.exp + scale
	digits := n.digits
	switch {
	case digits == "":
		return new(big.Int), nil
	case shift >= 0:
		if len(digits)+shift > maxScaledDigits {
			return nil, failf("number out of range")
		}
		digits += strings.Repeat("0", shift)
	default:
		cut := -shift
		if cut > len(digits) {
			if exact {
				return nil, failf("not an integer")
			}
			return new(big.Int), nil
		}
		keep, dropped := digits[:len(digits)-cut], digits[len(digits)-cut:]
		if exact && strings.Trim(dropped, "0") != "" {
			return nil, failf("has a fraction; want an integer")
		}
		b, _ := new(big.Int).SetString("0"+keep, 10)
		if dropped[0] >= '5' {
			b.Add(b, big.NewInt(1))
		}
		if n.neg {
			b.Neg(b)
		}
		return b, nil
	}
	b, _ := new(big.Int).SetString(digits, 10)
	if n.neg {
		b.Neg(b)
	}
	return b, nil
}

// pow10 holds 10^p for decimal precision checks.
var pow10 = func() [MaxDecimalPrecision + 1]*big.Int {
	var p [MaxDecimalPrecision + 1]*big.Int
	for i := range p {
		p[i] = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(i)), nil)
	}
	return p
}()

// parseDecimal converts text to an unscaled decimal(p,s), rounding half
// away from zero to s digits (as Hive does) and failing when the integer
// part needs more than p-s digits.
func parseDecimal(text string, p, s int) (*big.Int, *convErr) {
	num, ok := splitNumber(text)
	if !ok {
		return nil, failf("%q is not a decimal number", text)
	}
	b, err := num.scaled(s, false)
	if err != nil {
		return nil, err
	}
	if new(big.Int).Abs(b).Cmp(pow10[p]) >= 0 {
		return nil, failf("%s does not fit decimal(%d,%d)", text, p, s)
	}
	return b, nil
}

func decodeBase64(s string) ([]byte, *convErr) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, failf("not valid base64")
}

// fastDecimal is parseDecimal for plain text, -?[0-9]+(\.[0-9]+)?, whose
// unscaled value fits in 18 digits: the common case, without big.Int. It
// reports false for anything else (including values out of range, so
// that parseDecimal words the error).
func fastDecimal(text []byte, p, s int) (int64, bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	intEnd := digits(text, 0)
	if intEnd == 0 || intEnd+s > 18 {
		return 0, false
	}
	frac := text[intEnd:]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) == 1 || digits(frac, 1) != len(frac) {
			return 0, false
		}
		frac = frac[1:]
	}
	var n int64
	for _, c := range text[:intEnd] {
		n = n*10 + int64(c-'0')
	}
	for i := range s {
		n *= 10
		if i < len(frac) {
			n += int64(frac[i] - '0')
		}
	}
	if len(frac) > s && frac[s] >= '5' {
		n++ // half away from zero, on the first dropped digit as scaled does
	}
	if n >= pow10[p].Int64() {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// SplitDecimal reads a JSON number (or numeric text) exactly as unscaled ×
// 10^exp. It refuses exponents past six digits, so that 1e999999 cannot
// make a caller allocate a million digits.
func SplitDecimal(text string) (unscaled *big.Int, exp int, ok bool) {
	n, ok := splitNumber(text)
	if !ok {
		return nil, 0, false
	}
	digits := n.digits
	if digits == "" {
		digits = "0"
	}
	unscaled, _ = new(big.Int).SetString(digits, 10)
	if n.neg {
		unscaled.Neg(unscaled)
	}
	return unscaled, n.exp, true
}
