package ingest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// This file holds a small, allocation-free JSON scanner used on the hot path
// of both doors. It validates exactly the grammar encoding/json accepts
// (RFC 8259, invalid UTF-8 tolerated, nesting depth at most 10000) so that
// the fuzz tests can use encoding/json as the oracle.

// maxNestingDepth matches encoding/json's limit, so that both accept the same
// documents.
const maxNestingDepth = 10000

// syntaxError reports malformed JSON at a byte offset of the scanned input.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func errAt(off int, msg string) error { return &syntaxError{off: off, msg: msg} }

func unexpected(b []byte, i int, what string) error {
	if i >= len(b) {
		return errAt(i, "unexpected end of JSON input")
	}
	return errAt(i, fmt.Sprintf("invalid character %q %s", b[i], what))
}

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainWord reports whether none of the 8 bytes in w is a quote, a backslash
// or a control character (< 0x20), i.e. the bytes need no attention inside a
// JSON string. It uses the exact "has byte less than n" bit trick.
func plainWord(w uint64) bool {
	ctl := (w - lsb*0x20) & ^w & msb
	xq := w ^ (lsb * '"')
	q := (xq - lsb) & ^xq & msb
	xb := w ^ (lsb * '\\')
	bs := (xb - lsb) & ^xb & msb
	return ctl|q|bs == 0
}

// scanString scans the JSON string starting at b[i] == '"'. It returns the
// index just past the closing quote and whether the string holds escapes.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	for {
		for j+8 <= len(b) && plainWord(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		for j < len(b) && b[j] >= 0x20 && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if j >= len(b) {
			return 0, false, errAt(j, "unexpected end of JSON input in string")
		}
		switch c := b[j]; c {
		case '"':
			return j + 1, escaped, nil
		case '\\':
			escaped = true
			if j+1 >= len(b) {
				return 0, false, errAt(j+1, "unexpected end of JSON input in string escape")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) {
					return 0, false, errAt(len(b), "unexpected end of JSON input in \\u escape")
				}
				for k := j + 2; k < j+6; k++ {
					if unhex(b[k]) < 0 {
						return 0, false, unexpected(b, k, "in \\u hexadecimal character escape")
					}
				}
				j += 6
			default:
				return 0, false, unexpected(b, j+1, "in string escape code")
			}
		default:
			return 0, false, unexpected(b, j, "in string literal")
		}
	}
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// scanNumber scans a JSON number starting at b[i].
func scanNumber(b []byte, i int) (int, error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j++; j < len(b) && isDigit(b[j]); j++ {
		}
	default:
		return 0, unexpected(b, j, "in numeric literal")
	}
	if j < len(b) && b[j] == '.' {
		j++
		if j >= len(b) || !isDigit(b[j]) {
			return 0, unexpected(b, j, "after decimal point in numeric literal")
		}
		for j++; j < len(b) && isDigit(b[j]); j++ {
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || !isDigit(b[j]) {
			return 0, unexpected(b, j, "in exponent of numeric literal")
		}
		for j++; j < len(b) && isDigit(b[j]); j++ {
		}
	}
	return j, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanLiteral checks that b[i:] starts with lit (true, false, null).
func scanLiteral(b []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return 0, unexpected(b, i+k, "in literal "+lit+" (expecting '"+lit[k:k+1]+"')")
		}
	}
	return i + len(lit), nil
}

// skipValue validates and skips the JSON value starting at b[i] (no leading
// whitespace). depth is the nesting depth of the enclosing container
// (0 at top level). It returns the index just past the value.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errAt(i, "unexpected end of JSON input")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	default:
		return 0, unexpected(b, i, "looking for beginning of value")
	}
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxNestingDepth {
		return 0, errAt(i, "exceeded max depth")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, unexpected(b, i, "looking for beginning of object key string")
		}
		end, _, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, unexpected(b, i, "after object key")
		}
		i = skipWS(b, i+1)
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return 0, unexpected(b, i, "after object key:value pair")
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxNestingDepth {
		return 0, errAt(i, "exceeded max depth")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		return 0, unexpected(b, i, "after array element")
	}
}

// validJSON reports whether b holds exactly one JSON value, surrounded by
// optional whitespace (the same answer as json.Valid).
func validJSON(b []byte) error {
	i := skipWS(b, 0)
	i, err := skipValue(b, i, 0)
	if err != nil {
		return err
	}
	if i = skipWS(b, i); i != len(b) {
		return unexpected(b, i, "after top-level value")
	}
	return nil
}

// unquote returns the decoded contents of the JSON string token tok
// (quotes included). The rare slow path (escapes, non-ASCII) defers to
// encoding/json so that the result matches it byte for byte (U+FFFD for
// invalid UTF-8 and lone surrogates).
func unquote(tok []byte) (string, bool) {
	inner := tok[1 : len(tok)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' || c >= 0x80 {
			simple = false
			break
		}
	}
	if simple {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", false
	}
	return s, true
}

// appendUnescaped appends the decoded bytes of the escaped JSON string body
// inner (no quotes, already validated) to dst. Only used for base64 payloads,
// where any non-ASCII result is invalid anyway, so surrogate handling does not
// matter beyond producing some non-base64 byte.
func appendUnescaped(dst, inner []byte) []byte {
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch inner[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := unhex(inner[i+1])<<12 | unhex(inner[i+2])<<8 | unhex(inner[i+3])<<4 | unhex(inner[i+4])
			i += 4
			if r < 0x80 {
				dst = append(dst, byte(r))
			} else {
				dst = append(dst, 0xff) // never valid base64
			}
		default: // '"', '\\', '/'
			dst = append(dst, inner[i])
		}
	}
	return dst
}

// lineCol converts a byte offset of b into a 1-based line and column.
func lineCol(b []byte, off int) (line, col int) {
	if off > len(b) {
		off = len(b)
	}
	line = 1
	last := -1
	for i := 0; i < off; i++ {
		if b[i] == '\n' {
			line++
			last = i
		}
	}
	return line, off - last
}
