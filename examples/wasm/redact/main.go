// Command redact is an example Hydrant wasm processor: it masks personal
// data in JSON records. The string values of the fields named in Fields
// (at any depth) are overwritten with '*' and their numbers with '0', in
// place, so the record keeps its length and shape and nothing is
// allocated. Records that are not JSON objects fail as processing-failed.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o redact.wasm .
package main

import (
	"github.com/hydrant-io/hydrant/sdk/wasm/guest"
)

// Fields are the (case-sensitive) JSON keys whose values are masked.
var Fields = []string{"email", "phone", "ssn", "credit_card", "password", "ip"}

func init() { guest.Handle(redact) }

func main() {}

func redact(r *guest.Record) guest.Result {
	if err := mask(r.Data, Fields); err != "" {
		return guest.Fail(err)
	}
	return guest.Ok(r.Data)
}

// mask walks the JSON text b and masks the values of keys in fields. It is
// a tokenizer, not a validator: it only needs to know where strings begin
// and end and which strings are keys. It returns a message when b is
// obviously not a JSON object.
func mask(b []byte, fields []string) string {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return "not a JSON object"
	}
	for i < len(b) {
		if b[i] != '"' {
			i++
			continue
		}
		end := stringEnd(b, i)
		if end < 0 {
			return "unterminated string"
		}
		j := skipSpace(b, end+1)
		if j < len(b) && b[j] == ':' && isField(b[i+1:end], fields) {
			j = skipSpace(b, j+1)
			next, ok := maskValue(b, j)
			if !ok {
				return "unterminated string"
			}
			i = next
			continue
		}
		i = end + 1
	}
	return ""
}

// maskValue masks the scalar value at b[i:] and returns where it ends.
// Objects and arrays are left for the walk to descend into.
func maskValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, true
	}
	switch c := b[i]; {
	case c == '"':
		end := stringEnd(b, i)
		if end < 0 {
			return 0, false
		}
		for k := i + 1; k < end; k++ {
			b[k] = '*' // a masked escape stays valid: "\"" becomes "**"
		}
		return end + 1, true
	case c == '-' || (c >= '0' && c <= '9'):
		// Zero every digit but keep the number valid JSON: an integer
		// part of two or more digits becomes 10…0 (no leading zero).
		if c == '-' {
			i++
		}
		start := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			b[i] = '0'
		}
		if i-start > 1 {
			b[start] = '1'
		}
		for ; i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E' || b[i] == '+' || b[i] == '-' || (b[i] >= '0' && b[i] <= '9')); i++ {
			if b[i] >= '1' && b[i] <= '9' {
				b[i] = '0'
			}
		}
		return i, true
	}
	return i, true
}

// stringEnd returns the index of the quote closing the string that opens
// at b[i], or -1.
func stringEnd(b []byte, i int) int {
	for k := i + 1; k < len(b); k++ {
		switch b[k] {
		case '\\':
			k++
		case '"':
			return k
		}
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isField(key []byte, fields []string) bool {
	for _, f := range fields {
		if string(key) == f {
			return true
		}
	}
	return false
}
