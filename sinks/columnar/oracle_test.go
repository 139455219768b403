package columnar

// The converter and shredder as they were before the single-pass scanner:
// gjson-based, through boxed typed values. Kept as the oracle that the
// differential tests compare the fast paths with.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	"github.com/parquet-go/parquet-go"
	"github.com/tidwall/gjson"
)

// lookup fills vals (one per field) from obj's keys: the last of duplicate
// keys wins, as in encoding/json, and an exact name match beats a
// case-insensitive one.
func oldLookup(fi *fieldIndex, obj gjson.Result, vals []gjson.Result) {
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

// row converts one record into row (len(row) == len(Columns)); scratch
// is reused between calls.
func oldRow(c *converter, data []byte, row []any, scratch []gjson.Result) error {
	if !gjson.ValidBytes(data) {
		return &ConversionError{Reason: "record is not valid JSON"}
	}
	doc := gjson.ParseBytes(data)
	if !doc.IsObject() {
		return &ConversionError{Reason: "record is not a JSON object"}
	}
	clear(scratch)
	oldLookup(&c.top, doc, scratch)
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
			if v, err = oldRunJQ(col.code, obj); err != nil {
				return &ConversionError{Column: col.Name, Reason: err.Error()}
			}
		}
		x, err := oldValue(c, col.Type, v, 0)
		if err != nil {
			return &ConversionError{Column: col.Name + err.path, Reason: err.reason}
		}
		row[i] = x
	}
	return nil
}

// runJQ returns the expression's first output as JSON (null when none).
func oldRunJQ(code *gojq.Code, doc any) (gjson.Result, error) {
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

func oldValue(c *converter, t *Type, v gjson.Result, depth int) (any, *convErr) {
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
		text, ok := oldNumberText(v)
		if !ok {
			return nil, failf("want an integer, got %s", oldDescribe(v))
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
		text, ok := oldNumberText(v)
		if !ok {
			return nil, failf("want a number, got %s", oldDescribe(v))
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
		return nil, failf("want a boolean, got %s", oldDescribe(v))
	case Timestamp:
		return oldParseTimestamp(v)
	case Date:
		return oldParseDate(v)
	case Decimal:
		text, ok := oldNumberText(v)
		if !ok {
			return nil, failf("want a decimal number, got %s", oldDescribe(v))
		}
		return parseDecimal(text, t.Precision, t.Scale)
	case Binary:
		if v.Type != gjson.String {
			return nil, failf("want a base64 string, got %s", oldDescribe(v))
		}
		return decodeBase64(v.Str)
	case List:
		if !v.IsArray() {
			return nil, failf("want an array, got %s", oldDescribe(v))
		}
		var out []any
		var err *convErr
		v.ForEach(func(_, e gjson.Result) bool {
			var x any
			if x, err = oldValue(c, t.Elem, e, depth+1); err != nil {
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
			return nil, failf("want an object, got %s", oldDescribe(v))
		}
		fi := c.structs[t]
		if fi == nil {
			return nil, failf("struct type not indexed") // a Type built by hand after NewEncoder
		}
		vals := make([]gjson.Result, len(t.Fields))
		oldLookup(fi, v, vals)
		out := make([]any, len(t.Fields))
		for i, f := range t.Fields {
			x, err := oldValue(c, f.Type, vals[i], depth+1)
			if err != nil {
				return nil, within(err, "."+f.Name)
			}
			out[i] = x
		}
		return out, nil
	case Map:
		if !v.IsObject() {
			return nil, failf("want an object, got %s", oldDescribe(v))
		}
		out := []entry{}
		seen := map[string]int{}
		var err *convErr
		v.ForEach(func(k, e gjson.Result) bool {
			seg := "[" + strconv.Quote(k.Str) + "]"
			var key, val any
			if key, err = oldValue(c, t.Key, gjson.Result{Type: gjson.String, Str: k.Str, Raw: k.Str}, depth+1); err != nil {
				err = within(err, seg)
				return false
			}
			if val, err = oldValue(c, t.Elem, e, depth+1); err != nil {
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
func oldDescribe(v gjson.Result) string {
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
func oldNumberText(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.Number:
		return v.Raw, true
	case gjson.String:
		return strings.TrimSpace(v.Str), true
	}
	return "", false
}

// parseTimestamp accepts RFC 3339 (and the layouts above) or epoch
// seconds or milliseconds, as a number or a numeric string; a magnitude
// above 10^11 is milliseconds. The result is microseconds since the epoch
// (finer digits are dropped).
func oldParseTimestamp(v gjson.Result) (any, *convErr) {
	var text string
	switch v.Type {
	case gjson.Number:
		return boxed(parseEpoch(v.Raw))
	case gjson.String:
		text = strings.TrimSpace(v.Str)
	default:
		return nil, failf("want an RFC 3339 string or epoch number, got %s", oldDescribe(v))
	}
	if looksNumeric(text) {
		return boxed(parseEpoch(text))
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, text); err == nil {
			return boxed(checkMicros(t.UnixMicro(), text))
		}
	}
	return nil, failf("%q is not an RFC 3339 timestamp or epoch number", text)
}

// parseDate accepts "yyyy-MM-dd" or any accepted timestamp string (its
// UTC date); numbers are refused (days or seconds would be a guess).
func oldParseDate(v gjson.Result) (any, *convErr) {
	if v.Type != gjson.String {
		return nil, failf("want a date string (yyyy-MM-dd), got %s", oldDescribe(v))
	}
	text := strings.TrimSpace(v.Str)
	if t, err := time.Parse("2006-01-02", text); err == nil {
		return int32(t.Unix() / 86400), nil
	}
	if looksNumeric(text) {
		return nil, failf("%q is not a date (yyyy-MM-dd)", text)
	}
	us, err := oldParseTimestamp(gjson.Result{Type: gjson.String, Str: text})
	if err != nil {
		return nil, failf("%q is not a date (yyyy-MM-dd)", text)
	}
	days := us.(int64) / 86_400_000_000
	if us.(int64)%86_400_000_000 < 0 {
		days-- // floor for dates before 1970
	}
	return int32(days), nil
}

// oldShredder turns typed rows into parquet rows (Dremel levels). Not safe
// for concurrent use: it reuses its column buffers.
type oldShredder struct {
	s    *Schema
	cols [][]parquet.Value // per leaf column, this row's values
	row  parquet.Row
}

func newOldShredder(s *Schema) *oldShredder {
	n := 0
	for _, c := range s.Columns {
		n += oldLeaves(c.Type)
	}
	return &oldShredder{s: s, cols: make([][]parquet.Value, n)}
}

func oldLeaves(t *Type) int {
	switch t.Kind {
	case List:
		return oldLeaves(t.Elem)
	case Map:
		return 1 + oldLeaves(t.Elem)
	case Struct:
		n := 0
		for _, f := range t.Fields {
			n += oldLeaves(f.Type)
		}
		return n
	}
	return 1
}

// shred returns the parquet row of one typed row; it is valid until the
// next call.
func (sh *oldShredder) shred(row []any) parquet.Row {
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
func (sh *oldShredder) value(t *Type, v any, rep, def, repDepth, col int) int {
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
			sh.cols[col] = append(sh.cols[col], oldLeafValue(t.Key, e.Key).Level(r, def+1, col))
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
	sh.cols[col] = append(sh.cols[col], oldLeafValue(t, v).Level(rep, def, col))
	return col + 1
}

// nulls emits a null at definition level def for every leaf under t.
func (sh *oldShredder) nulls(t *Type, rep, def, col int) int {
	n := oldLeaves(t)
	for i := col; i < col+n; i++ {
		sh.cols[i] = append(sh.cols[i], parquet.Value{}.Level(rep, def, i))
	}
	return col + n
}

// leafValue converts a typed value to its physical parquet value.
func oldLeafValue(t *Type, v any) parquet.Value {
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
