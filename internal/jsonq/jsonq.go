// Package jsonq evaluates jq expressions over JSON records (gojq), with a
// fast path: an expression that is a chain of field names (.a.b, most of
// what configs map) is answered by scanning the record's bytes (gjson)
// instead of decoding it whole, 5-10x faster, with the value decoding
// then running the expression would give.
//
// It is a leaf library shared by the processors (jq_metadata) and the
// sinks (column mappings), which may not import each other.
package jsonq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/tidwall/gjson"
)

// Query is one compiled expression.
type Query struct {
	code *gojq.Code
	// path is the gjson path of a plain field chain (".a.b" -> "a.b"),
	// "" for any other expression; keys are its fields.
	path string
	keys []string
}

// plainPath matches jq expressions that are a chain of field names.
var plainPath = regexp.MustCompile(`^\s*(\.[A-Za-z_][A-Za-z0-9_]*)+\s*$`)

// Compile compiles expr. $ENV and env are empty: a query cannot leak the
// server's environment into data.
func Compile(expr string) (*Query, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, err
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, err
	}
	out := &Query{code: code}
	if plainPath.MatchString(expr) {
		out.path = strings.TrimPrefix(strings.TrimSpace(expr), ".")
		out.keys = strings.Split(out.path, ".")
	}
	return out, nil
}

// Plain reports whether the query is a chain of field names, which Scan
// answers.
func (q *Query) Plain() bool { return q.path != "" }

// Code is the compiled expression, for callers that run it themselves.
func (q *Query) Code() *gojq.Code { return q.code }

// First runs the query on a decoded document and returns its first result;
// ok is false when it has none.
func (q *Query) First(doc any) (v any, ok bool, err error) {
	v, ok = q.code.Run(doc).Next()
	if !ok {
		return nil, false, nil
	}
	if err, isErr := v.(error); isErr {
		return nil, false, err
	}
	return v, true, nil
}

// Scan answers a Plain query from data, which Valid accepted: the value
// Decode and First would give (a string, json.Number, bool, nil, or for
// an object or array its decoded form), and jq's error where jq fails:
// a field of a number, string, boolean or array. A missing field, or a
// field of null, is null. (With duplicate keys the scan takes the first,
// jq the last; JSON objects should not have them.)
func (q *Query) Scan(data []byte) (any, error) {
	r := gjson.ParseBytes(data)
	for _, key := range q.keys {
		switch {
		case r.IsObject():
			r = r.Get(key)
		case !r.Exists() || r.Type == gjson.Null:
			return nil, nil
		default:
			return nil, notObject(r, key)
		}
	}
	return value(r)
}

// notObject is jq's error for indexing a non-object with a field.
func notObject(r gjson.Result, key string) error {
	kind := "a number"
	switch {
	case r.IsArray():
		kind = "an array"
	case r.Type == gjson.String:
		kind = "a string"
	case r.Type == gjson.True || r.Type == gjson.False:
		kind = "a boolean"
	}
	return fmt.Errorf("cannot index %s with %q", kind, key)
}

// ScanAll answers Plain queries from data, which Valid accepted, into out
// (one slot per query): Scan's values. When every query is a top-level
// field, the record is walked once for all of them instead of once each.
func ScanAll(data []byte, qs []*Query, out []any) error {
	top := true
	for _, q := range qs {
		top = top && !strings.Contains(q.path, ".")
	}
	if !top {
		for i, q := range qs {
			v, err := q.Scan(data)
			if err != nil {
				return err
			}
			out[i] = v
		}
		return nil
	}
	for i := range out[:len(qs)] {
		out[i] = nil
	}
	doc := gjson.ParseBytes(data)
	if !doc.IsObject() {
		if doc.Type == gjson.Null || len(qs) == 0 {
			return nil
		}
		return notObject(doc, qs[0].path)
	}
	found := 0
	var err error
	seen := make([]bool, len(qs))
	doc.ForEach(func(k, v gjson.Result) bool {
		for i, q := range qs {
			// The first of duplicate keys wins, as with Scan.
			if !seen[i] && q.path == k.Str {
				seen[i] = true
				found++
				if out[i], err = value(v); err != nil {
					return false
				}
			}
		}
		return found < len(qs)
	})
	return err
}

// value is a scanned result as Decode would give it.
func value(r gjson.Result) (any, error) {
	switch r.Type {
	case gjson.String:
		return validUTF8(r.Str), nil
	case gjson.Number:
		return json.Number(r.Raw), nil
	case gjson.True:
		return true, nil
	case gjson.False:
		return false, nil
	case gjson.JSON:
		return Decode([]byte(r.Raw))
	}
	return nil, nil
}

// Decode parses exactly one JSON value, keeping numbers as json.Number so
// that 64-bit ids survive intact (gojq operates on json.Number).
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, errors.New("empty data")
		}
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the first JSON value")
	}
	return v, nil
}

// MaxDepth is encoding/json's nesting limit, which Valid applies too.
const MaxDepth = 10000

// Valid reports whether data is one valid JSON value nested at most
// MaxDepth deep. gjson validates recursively, so the depth is bounded
// first: hostile input cannot exhaust the stack.
func Valid(data []byte) bool {
	// Each level of nesting takes a byte: shorter data cannot be deeper.
	return (len(data) <= MaxDepth || shallow(data)) && gjson.ValidBytes(data)
}

// shallow reports whether the brackets of data (outside strings) nest at
// most MaxDepth deep. It does not validate anything else.
func shallow(data []byte) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return false
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return true
}

// validUTF8 replaces each byte of an invalid UTF-8 sequence with U+FFFD,
// as encoding/json does when it decodes a string (gjson keeps the bytes).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
