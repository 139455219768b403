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
	"github.com/tidwall/gjson"
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

// fieldIndex finds a struct's (or the record's) field by JSON key.
type fieldIndex struct {
	exact map[string]int
	fold  map[string]int // lower-cased names; nil unless case-insensitive
}

func newFieldIndex(names []string, caseInsensitive bool) fieldIndex {
	fi := fieldIndex{exact: make(map[string]int, len(names))}
	if caseInsensitive {
		fi.fold = make(map[string]int, len(names))
	}
	for i, n := range names {
		fi.exact[n] = i
		if fi.fold != nil {
			if _, dup := fi.fold[strings.ToLower(n)]; !dup {
				fi.fold[strings.ToLower(n)] = i
			}
		}
	}
	return fi
}

// lookup fills vals (one per field) from obj's keys: the last of duplicate
// keys wins, as in encoding/json, and an exact name match beats a
// case-insensitive one.
func (fi *fieldIndex) lookup(obj gjson.Result, vals []gjson.Result) {
	var exact uint64 // bit i: field i matched exactly (first 64 fields)
	obj.ForEach(func(k, v gjson.Result) bool {
		if i, ok := fi.exact[k.Str]; ok {
			vals[i] = v
			if i < 64 {
				exact |= 1 << i
			}
			return true
		}
		if fi.fold != nil {
			if i, ok := fi.fold[strings.ToLower(k.Str)]; ok && (i >= 64 || exact&(1<<i) == 0) {
				vals[i] = v
			}
		}
		return true
	})
}

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
	c.top = newFieldIndex(names, s.CaseInsensitive)
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
		fi := newFieldIndex(names, c.s.CaseInsensitive)
		c.structs[t] = &fi
	}
}

// row converts one record into row (len(row) == len(Columns)); scratch
// is reused between calls.
func (c *converter) row(data []byte, row []any, scratch []gjson.Result) error {
	if !gjson.ValidBytes(data) {
		return &ConversionError{Reason: "record is not valid JSON"}
	}
	doc := gjson.ParseBytes(data)
	if !doc.IsObject() {
		return &ConversionError{Reason: "record is not a JSON object"}
	}
	clear(scratch)
	c.top.lookup(doc, scratch)
	var obj any
	for i := range c.s.Columns {
		col := &c.s.Columns[i]
		v := scratch[i]
		if col.code != nil {
			if obj == nil {
				d := json.NewDecoder(bytes.NewReader(data))
				d.UseNumber()
				if err := d.Decode(&obj); err != nil {
					return &ConversionError{Reason: "record is not valid JSON: " + err.Error()}
				}
			}
			var err error
			if v, err = runJQ(col.code, obj); err != nil {
				return &ConversionError{Column: col.Name, Reason: err.Error()}
			}
		}
		x, err := c.value(col.Type, v, 0)
		if err != nil {
			return &ConversionError{Column: col.Name + err.path, Reason: err.reason}
		}
		row[i] = x
	}
	return nil
}

// runJQ returns the expression's first output as JSON (null when none).
func runJQ(code *gojq.Code, doc any) (gjson.Result, error) {
	out, ok := code.Run(doc).Next()
	if !ok {
		return gjson.Result{}, nil
	}
	switch v := out.(type) {
	case error:
		return gjson.Result{}, fmt.Errorf("jq: %w", v)
	case nil:
		return gjson.Result{}, nil
	case bool:
		if v {
			return gjson.Result{Type: gjson.True, Raw: "true"}, nil
		}
		return gjson.Result{Type: gjson.False, Raw: "false"}, nil
	case string:
		return gjson.Result{Type: gjson.String, Str: v}, nil
	case json.Number:
		return gjson.Result{Type: gjson.Number, Raw: string(v)}, nil
	case int:
		return gjson.Result{Type: gjson.Number, Raw: strconv.Itoa(v)}, nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return gjson.Result{}, fmt.Errorf("jq result: %w", err)
	}
	return gjson.ParseBytes(b), nil
}

func (c *converter) value(t *Type, v gjson.Result, depth int) (any, *convErr) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	if depth > maxTypeDepth {
		return nil, failf("nested too deep")
	}
	switch t.Kind {
	case String:
		switch v.Type {
		case gjson.String:
			return v.Str, nil
		default: // numbers, booleans, nested JSON: their text, as OpenX does
			return v.Raw, nil
		}
	case Int32, Int64:
		text, ok := numberText(v)
		if !ok {
			return nil, failf("want an integer, got %s", describe(v))
		}
		bits := 64
		if t.Kind == Int32 {
			bits = 32
		}
		n, err := parseInt(text, bits)
		if err != nil {
			return nil, err
		}
		if bits == 32 {
			return int32(n), nil
		}
		return n, nil
	case Float, Double:
		text, ok := numberText(v)
		if !ok {
			return nil, failf("want a number, got %s", describe(v))
		}
		bits := 64
		if t.Kind == Float {
			bits = 32
		}
		f, err := strconv.ParseFloat(text, bits)
		if err != nil {
			return nil, failf("%q is not a %s", text, t.Kind)
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case Boolean:
		switch {
		case v.Type == gjson.True:
			return true, nil
		case v.Type == gjson.False:
			return false, nil
		case v.Type == gjson.String && strings.EqualFold(v.Str, "true"):
			return true, nil
		case v.Type == gjson.String && strings.EqualFold(v.Str, "false"):
			return false, nil
		}
		return nil, failf("want a boolean, got %s", describe(v))
	case Timestamp:
		return parseTimestamp(v)
	case Date:
		return parseDate(v)
	case Decimal:
		text, ok := numberText(v)
		if !ok {
			return nil, failf("want a decimal number, got %s", describe(v))
		}
		return parseDecimal(text, t.Precision, t.Scale)
	case Binary:
		if v.Type != gjson.String {
			return nil, failf("want a base64 string, got %s", describe(v))
		}
		return decodeBase64(v.Str)
	case List:
		if !v.IsArray() {
			return nil, failf("want an array, got %s", describe(v))
		}
		var out []any
		var err *convErr
		v.ForEach(func(_, e gjson.Result) bool {
			var x any
			if x, err = c.value(t.Elem, e, depth+1); err != nil {
				err = within(err, "["+strconv.Itoa(len(out))+"]")
				return false
			}
			out = append(out, x)
			return true
		})
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case Struct:
		if !v.IsObject() {
			return nil, failf("want an object, got %s", describe(v))
		}
		fi := c.structs[t]
		if fi == nil {
			return nil, failf("struct type not indexed") // a Type built by hand after NewEncoder
		}
		vals := make([]gjson.Result, len(t.Fields))
		fi.lookup(v, vals)
		out := make([]any, len(t.Fields))
		for i, f := range t.Fields {
			x, err := c.value(f.Type, vals[i], depth+1)
			if err != nil {
				return nil, within(err, "."+f.Name)
			}
			out[i] = x
		}
		return out, nil
	case Map:
		if !v.IsObject() {
			return nil, failf("want an object, got %s", describe(v))
		}
		out := []entry{}
		seen := map[string]int{}
		var err *convErr
		v.ForEach(func(k, e gjson.Result) bool {
			seg := "[" + strconv.Quote(k.Str) + "]"
			var key, val any
			if key, err = c.value(t.Key, gjson.Result{Type: gjson.String, Str: k.Str, Raw: k.Str}, depth+1); err != nil {
				err = within(err, seg)
				return false
			}
			if val, err = c.value(t.Elem, e, depth+1); err != nil {
				err = within(err, seg)
				return false
			}
			if i, dup := seen[k.Str]; dup {
				out[i].Value = val // the last duplicate wins, as in encoding/json
				return true
			}
			seen[k.Str] = len(out)
			out = append(out, entry{Key: key, Value: val})
			return true
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, failf("unsupported type %s", t)
}

// describe names a JSON value's kind for an error message.
func describe(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		if len(v.Str) > 40 {
			return fmt.Sprintf("string %q...", v.Str[:40])
		}
		return fmt.Sprintf("string %q", v.Str)
	case gjson.Number:
		return "number " + v.Raw
	case gjson.True, gjson.False:
		return "boolean"
	}
	if v.IsArray() {
		return "array"
	}
	return "object"
}

// numberText returns the text of a JSON number, or of a string holding
// one (OpenX accepts quoted numbers).
func numberText(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.Number:
		return v.Raw, true
	case gjson.String:
		return strings.TrimSpace(v.Str), true
	}
	return "", false
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
