package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/itchyny/gojq"
)

// keyQuery derives a record's partition key from its JSON data with the
// pipeline's stream.partition_key jq expression.
type keyQuery struct{ code *gojq.Code }

func newKeyQuery(expr string) (*keyQuery, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("parse jq %q: %w", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("compile jq %q: %w", expr, err)
	}
	return &keyQuery{code: code}, nil
}

// eval returns the key for data; a record that is not JSON, or for which
// the expression yields nothing usable, gets "" (a random shard), so a bad
// record never blocks ingest.
func (k *keyQuery) eval(data []byte) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	out, ok := k.code.Run(v).Next()
	if !ok {
		return ""
	}
	switch x := out.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case nil, error:
		return ""
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}
