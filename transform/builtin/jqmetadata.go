package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"

	"github.com/hydrant-io/hydrant/internal/jsonq"
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
	// q answers a plain field path such as .a.b by scanning the record
	// instead of decoding it whole: that is most MetadataExtraction
	// queries, and 5-10× faster.
	q *jsonq.Query
}

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
		q, err := jsonq.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("jq_metadata: key %q: compile %q: %w", name, expr, err)
		}
		k := jqKey{name: name, meta: record.QueryKey(name), q: q}
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
		if !jsonq.Valid(data) {
			return nil, fmt.Errorf("%w: record is not JSON (or nested deeper than %d)", ErrPartitionKeyFailed, jsonq.MaxDepth)
		}
		for _, k := range p.keys {
			v, err := k.q.Scan(data)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: %v", ErrPartitionKeyFailed, k.name, err)
			}
			s, err := scalarString(v)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: %v", ErrPartitionKeyFailed, k.name, err)
			}
			meta[k.meta] = s
		}
		return meta, nil
	}
	v, err := jsonq.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: record is not JSON: %v", ErrPartitionKeyFailed, err)
	}
	for _, k := range p.keys {
		s, err := evalScalar(ctx, k.q.Code(), v)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %v", ErrPartitionKeyFailed, k.name, err)
		}
		meta[k.meta] = s
	}
	return meta, nil
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

// plain reports whether every key is a plain field path.
func (p *JQMetadata) plain() bool {
	for _, k := range p.keys {
		if !k.q.Plain() {
			return false
		}
	}
	return true
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
