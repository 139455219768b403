package builtin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/tidwall/gjson"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// ErrPartitionKeyFailed marks a record whose partition keys could not be
// extracted (not JSON, or a query that yields no single scalar). The error is
// also marked with record.WithErrorType, so the runtime backs the record up
// under "partition-key-failed" as Firehose does.
var ErrPartitionKeyFailed = errors.New("partition key extraction failed")

// MaxMetadataKeys is Firehose's limit on keys in a MetadataExtractionQuery.
const MaxMetadataKeys = 50

// JQMetadata extracts partition keys from JSON records with jq expressions,
// like Firehose's MetadataExtraction processor. Each key's value is stored in
// Meta under record.QueryKey(name), where the prefix expression
// !{partitionKeyFromQuery:name} finds it. Data is left unchanged. It is safe
// for concurrent use.
type JQMetadata struct {
	keys []jqKey // sorted by name, so errors are deterministic
}

type jqKey struct {
	name, meta string
	code       *gojq.Code
	// path is the gjson path of a plain field path such as .a.b ("a.b"),
	// which is evaluated by scanning the record instead of decoding it
	// whole: that is most MetadataExtraction queries, and 5-10× faster.
	path string
}

// plainPath matches jq expressions that are a chain of field names.
var plainPath = regexp.MustCompile(`^\s*(\.[A-Za-z_][A-Za-z0-9_]*)+\s*$`)

var _ transform.Processor = (*JQMetadata)(nil)

// NewJQMetadata compiles one jq expression per partition key name (e.g.
// "customer_id" -> ".customer_id", "year" -> `.ts | strftime("%Y")`).
// Expressions are compiled once. $ENV and env are empty, so a query cannot
// leak the server's environment into object keys.
func NewJQMetadata(keys map[string]string) (*JQMetadata, error) {
	if len(keys) == 0 {
		return nil, errors.New("jq_metadata: no partition keys")
	}
	if len(keys) > MaxMetadataKeys {
		return nil, fmt.Errorf("jq_metadata: %d partition keys, at most %d allowed", len(keys), MaxMetadataKeys)
	}
	p := &JQMetadata{keys: make([]jqKey, 0, len(keys))}
	for name, expr := range keys {
		if name == "" {
			return nil, errors.New("jq_metadata: empty partition key name")
		}
		q, err := gojq.Parse(expr)
		if err != nil {
			return nil, fmt.Errorf("jq_metadata: key %q: parse %q: %w", name, expr, err)
		}
		code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
		if err != nil {
			return nil, fmt.Errorf("jq_metadata: key %q: compile %q: %w", name, expr, err)
		}
		k := jqKey{name: name, meta: record.QueryKey(name), code: code}
		if plainPath.MatchString(expr) {
			k.path = strings.TrimPrefix(strings.TrimSpace(expr), ".")
		}
		p.keys = append(p.keys, k)
	}
	slices.SortFunc(p.keys, func(a, b jqKey) int { return strings.Compare(a.name, b.name) })
	return p, nil
}

// ParseMetadataQuery splits a Firehose MetadataExtractionQuery, a jq object
// construction such as `{customer_id: .customer_id, year: .ts|strftime("%Y")}`,
// into the key-to-expression map NewJQMetadata takes. Shorthand keys
// ({customer_id}) mean .customer_id; computed keys and $variables are
// rejected because a partition key name must be fixed.
func ParseMetadataQuery(query string) (map[string]string, error) {
	q, err := gojq.Parse(query)
	if err != nil {
		return nil, fmt.Errorf("jq_metadata: parse query: %w", err)
	}
	if q.Term == nil || q.Term.Type != gojq.TermTypeObject || q.Term.Object == nil ||
		len(q.Term.SuffixList) > 0 || q.Left != nil || q.Right != nil ||
		len(q.FuncDefs) > 0 || len(q.Imports) > 0 || q.Meta != nil {
		return nil, errors.New("jq_metadata: query must be a single object construction like {key: .field}")
	}
	out := make(map[string]string, len(q.Term.Object.KeyVals))
	for _, kv := range q.Term.Object.KeyVals {
		var name string
		switch {
		case kv.Key != "" && !strings.HasPrefix(kv.Key, "$"):
			name = kv.Key
		case kv.KeyString != nil && len(kv.KeyString.Queries) == 0:
			name = kv.KeyString.Str
		default:
			return nil, fmt.Errorf("jq_metadata: key %s: partition key names must be literal", kv)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("jq_metadata: duplicate partition key %q", name)
		}
		if kv.Val == nil {
			out[name] = "." + strconv.Quote(name)
		} else {
			out[name] = kv.Val.String()
		}
	}
	return out, nil
}

// Process evaluates every key on every record. A record that is not a single
// JSON value, or for which a key yields an error, nothing, several values,
// null, an array or an object, is Failed with an error wrapping
// ErrPartitionKeyFailed. Other records are Ok with Meta extended. A
// cancelled ctx fails the whole call.
func (p *JQMetadata) Process(ctx context.Context, in []record.Record) ([]transform.Result, error) {
	res := make([]transform.Result, len(in))
	outs := make([]record.Record, len(in))
	for i := range in {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		meta, err := p.extract(ctx, in[i].Data, in[i].Meta)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr // the query was interrupted, not wrong
			}
			// Backed up as partition-key-failed, as Firehose does.
			res[i] = transform.Result{Status: transform.Failed, Err: record.WithErrorType(err, record.PartitionKeyFailed)}
			continue
		}
		outs[i] = in[i]
		outs[i].Meta = meta
		res[i] = transform.Result{Status: transform.Ok, Out: outs[i : i+1 : i+1]}
	}
	return res, nil
}

// extract returns a new Meta map: a copy of base plus one entry per key.
func (p *JQMetadata) extract(ctx context.Context, data []byte, base map[string]string) (map[string]string, error) {
	meta := make(map[string]string, len(base)+len(p.keys))
	for k, val := range base {
		meta[k] = val
	}
	if p.plain() {
		// gjson validates recursively: bound the nesting first, as
		// encoding/json does, so hostile input cannot exhaust the stack.
		if !shallowJSON(data) || !gjson.ValidBytes(data) {
			return nil, fmt.Errorf("%w: record is not JSON (or nested deeper than %d)", ErrPartitionKeyFailed, maxJSONDepth)
		}
		for _, k := range p.keys {
			s, err := scanScalar(data, k.path)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: %v", ErrPartitionKeyFailed, k.name, err)
			}
			meta[k.meta] = s
		}
		return meta, nil
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: record is not JSON: %v", ErrPartitionKeyFailed, err)
	}
	for _, k := range p.keys {
		s, err := evalScalar(ctx, k.code, v)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %v", ErrPartitionKeyFailed, k.name, err)
		}
		meta[k.meta] = s
	}
	return meta, nil
}

// decodeJSON parses exactly one JSON value, keeping numbers as json.Number
// so that 64-bit ids survive intact (gojq operates on json.Number).
func decodeJSON(data []byte) (any, error) {
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

// evalScalar runs code on v and requires exactly one scalar result.
func evalScalar(ctx context.Context, code *gojq.Code, v any) (string, error) {
	iter := code.RunWithContext(ctx, v)
	first, ok := iter.Next()
	if !ok {
		return "", errors.New("query produced no value")
	}
	if err, isErr := first.(error); isErr {
		return "", fmt.Errorf("query failed: %w", err)
	}
	if _, more := iter.Next(); more {
		return "", errors.New("query produced more than one value")
	}
	return scalarString(first)
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// shallowJSON reports whether the brackets of data (outside strings) nest
// at most maxJSONDepth deep. It does not validate anything else.
func shallowJSON(data []byte) bool {
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
			if depth++; depth > maxJSONDepth {
				return false
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return true
}

// plain reports whether every key is a plain field path.
func (p *JQMetadata) plain() bool {
	for _, k := range p.keys {
		if k.path == "" {
			return false
		}
	}
	return true
}

// scanScalar evaluates a plain field path by scanning data (valid JSON) and
// renders the value as scalarString does. Like jq, a missing field or a
// non-object along the way yields null, which fails. (With duplicate keys
// the scan takes the first, jq the last; JSON objects should not have them.)
func scanScalar(data []byte, path string) (string, error) {
	r := gjson.GetBytes(data, path)
	switch r.Type {
	case gjson.String:
		return jsonUTF8(r.Str), nil
	case gjson.Number:
		return scalarString(json.Number(r.Raw))
	case gjson.True, gjson.False:
		return strconv.FormatBool(r.Bool()), nil
	case gjson.JSON:
		if strings.HasPrefix(r.Raw, "[") {
			return scalarString([]any(nil))
		}
		return scalarString(map[string]any(nil))
	default:
		return scalarString(nil)
	}
}

// jsonUTF8 replaces each byte of an invalid UTF-8 sequence with U+FFFD,
// as encoding/json does when it decodes a string (gjson keeps the bytes).
func jsonUTF8(s string) string {
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

// scalarString renders a jq scalar as a partition key value: strings raw,
// numbers as JSON text (integers without a fraction), booleans as words.
func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return formatFloat(v)
	case *big.Int:
		return v.String(), nil
	case json.Number:
		s := string(v)
		if isIntegerLiteral(s) {
			return s, nil // exact, even beyond 2^53
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return "", fmt.Errorf("invalid number %q", s)
		}
		return formatFloat(f)
	case nil:
		return "", errors.New("query produced null (missing field?)")
	case []any:
		return "", errors.New("query produced an array, want a string, number or boolean")
	case map[string]any:
		return "", errors.New("query produced an object, want a string, number or boolean")
	default:
		return "", fmt.Errorf("query produced an unsupported %T", v)
	}
}

// formatFloat prints like jq: no ".0" on integral values, exponent only for
// very large or small magnitudes.
func formatFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("query produced the non-finite number %v", f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.FormatFloat(f, format, -1, 64), nil
}

func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Close does nothing.
func (p *JQMetadata) Close(context.Context) error { return nil }
