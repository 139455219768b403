package columnar

import (
	"encoding/binary"

	"github.com/tidwall/gjson"
)

// jkind is the kind of a scanned JSON value.
type jkind uint8

// JSON value kinds; the zero jkind is a missing value, which converts as
// null.
const (
	jNull jkind = iota + 1
	jFalse
	jTrue
	jNumber
	jString
	jArray
	jObject
)

// node is one value (or object key) of a scanned document.
type node struct {
	// start and end delimit the raw text in doc.data, quotes included; a
	// bare string's span is its content.
	start, end int
	// next is the index of the node after this value and its descendants.
	next int
	kind jkind
	esc  bool // a string with escape sequences
	bare bool // a string given by content, not as JSON (a jq result)
}

// doc is a JSON document scanned into a flat tape of nodes: a container is
// followed by its children, an object's as key, value pairs. A doc is
// reused between records; its nodes point into data, which it does not own.
type doc struct {
	data []byte
	// text is data as a string, when the caller wants string values to
	// share one copy of the record (see text below); else empty.
	text  string
	nodes []node
	stack []int // open containers while scanning
}

// maxKeptNodes bounds the tape a doc keeps between records, so that one
// huge record does not pin its tape for the life of a writer.
const maxKeptNodes = 1 << 16

// scan parses data, accepting exactly what gjson.ValidBytes accepts (the
// JSON grammar; strings are not checked for UTF-8), in one pass and
// without recursion, so deep nesting costs heap rather than stack.
func (d *doc) scan(data []byte) bool {
	if cap(d.nodes) > maxKeptNodes {
		d.nodes = nil
	}
	d.data, d.text, d.nodes, d.stack = data, "", d.nodes[:0], d.stack[:0]
	i := 0
	for {
		var ok, open bool
		if d.inObject() {
			if i, ok = d.key(i); !ok {
				return false
			}
		}
		if i, open, ok = d.value(i); !ok {
			return false
		}
		if open {
			i = skipSpace(data, i)
			if i == len(data) || data[i] != d.closer() {
				continue // the container's first member
			}
			i = d.close(i)
		}
		if i, ok = d.afterValue(i); !ok || len(d.stack) == 0 {
			return ok
		}
	}
}

// inObject reports whether the innermost open container is an object.
func (d *doc) inObject() bool {
	return len(d.stack) > 0 && d.nodes[d.stack[len(d.stack)-1]].kind == jObject
}

// closer is the byte that ends the innermost open container.
func (d *doc) closer() byte {
	if d.inObject() {
		return '}'
	}
	return ']'
}

// close ends the innermost container at data[i].
func (d *doc) close(i int) int {
	top := d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
	d.nodes[top].end = i + 1
	d.nodes[top].next = len(d.nodes)
	return i + 1
}

// afterValue consumes what follows a value: closers of the containers it
// ends and then a comma (ok and more to come), or the end of the
// document (ok with an empty stack).
func (d *doc) afterValue(i int) (int, bool) {
	for {
		if len(d.stack) == 0 {
			return i, skipSpace(d.data, i) == len(d.data)
		}
		i = skipSpace(d.data, i)
		switch {
		case i == len(d.data):
			return i, false
		case d.data[i] == ',':
			return i + 1, true
		case d.data[i] != d.closer():
			return i, false
		}
		i = d.close(i)
	}
}

// key consumes an object key and its colon.
func (d *doc) key(i int) (int, bool) {
	i = skipSpace(d.data, i)
	if i == len(d.data) || d.data[i] != '"' {
		return i, false
	}
	i, ok := d.str(i)
	if !ok {
		return i, false
	}
	i = skipSpace(d.data, i)
	if i == len(d.data) || d.data[i] != ':' {
		return i, false
	}
	return i + 1, true
}

// value consumes a scalar, or opens a container (open) whose members
// follow.
func (d *doc) value(i int) (next int, open, ok bool) {
	data := d.data
	i = skipSpace(data, i)
	if i == len(data) {
		return i, false, false
	}
	switch c := data[i]; c {
	case '{', '[':
		kind := jArray
		if c == '{' {
			kind = jObject
		}
		d.stack = append(d.stack, len(d.nodes))
		d.nodes = append(d.nodes, node{kind: kind, start: i})
		return i + 1, true, true
	case '"':
		i, ok = d.str(i)
		return i, false, ok
	case 't':
		return d.literal(i, "true", jTrue)
	case 'f':
		return d.literal(i, "false", jFalse)
	case 'n':
		return d.literal(i, "null", jNull)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		end, ok := scanNumber(data, i)
		if ok {
			d.leaf(jNumber, i, end, false)
		}
		return end, false, ok
	}
	return i, false, false
}

func (d *doc) leaf(kind jkind, start, end int, esc bool) {
	d.nodes = append(d.nodes, node{kind: kind, start: start, end: end, next: len(d.nodes) + 1, esc: esc})
}

func (d *doc) literal(i int, word string, kind jkind) (int, bool, bool) {
	end := i + len(word)
	if end > len(d.data) || string(d.data[i:end]) != word {
		return i, false, false
	}
	d.leaf(kind, i, end, false)
	return end, false, true
}

// str consumes the string starting at data[i] == '"'.
func (d *doc) str(i int) (int, bool) {
	end, esc, ok := scanString(d.data, i+1)
	if ok {
		d.leaf(jString, i, end, esc)
	}
	return end, ok
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// SWAR constants: a byte value repeated in each of a word's eight bytes.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether none of w's bytes is a quote, a backslash or
// a control character; it may say false for a plain word (a borrow from a
// lower byte), never true for one that is not.
func plainWord(w uint64) bool {
	quote := w ^ (ones * '"')
	slash := w ^ (ones * '\\')
	special := (quote-ones) & ^quote | (slash-ones) & ^slash | (w-ones*0x20) & ^w
	return special&highs == 0
}

// scanString finds the end of a string whose content starts at data[i],
// validating escapes and refusing control characters.
func scanString(data []byte, i int) (end int, esc, ok bool) {
	for {
		for i+8 <= len(data) && plainWord(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		if i == len(data) {
			return i, esc, false
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, esc, true
		case c < ' ':
			return i, esc, false
		case c == '\\':
			esc = true
			n := escapeLen(data, i+1)
			if n == 0 {
				return i, esc, false
			}
			i += 1 + n
		default:
			i++
		}
	}
}

// escapeLen is the length of a valid escape after a backslash at
// data[i-1], or 0.
func escapeLen(data []byte, i int) int {
	if i == len(data) {
		return 0
	}
	switch data[i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 1
	case 'u':
		if i+5 > len(data) {
			return 0
		}
		for _, h := range data[i+1 : i+5] {
			if !isHex(h) {
				return 0
			}
		}
		return 5
	}
	return 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber consumes -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	if i == len(data) || !isDigit(data[i]) {
		return i, false
	}
	if data[i] == '0' {
		i++
	} else {
		i = digits(data, i)
	}
	if i < len(data) && data[i] == '.' {
		if i++; i == len(data) || !isDigit(data[i]) {
			return i, false
		}
		i = digits(data, i)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i == len(data) || !isDigit(data[i]) {
			return i, false
		}
		i = digits(data, i)
	}
	return i, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

// jv is a JSON value: a node of a doc, or missing (d == nil).
type jv struct {
	d *doc
	i int
}

func (v jv) kind() jkind {
	if v.d == nil {
		return 0
	}
	return v.d.nodes[v.i].kind
}

// isNull reports a null or missing value.
func (v jv) isNull() bool { k := v.kind(); return k == 0 || k == jNull }

// raw is the value's JSON text (a bare string's content).
func (v jv) raw() []byte {
	n := &v.d.nodes[v.i]
	return v.d.data[n.start:n.end]
}

// str is a string's content, unescaped as gjson does.
func (v jv) str() []byte {
	n := &v.d.nodes[v.i]
	switch {
	case n.bare:
		return v.d.data[n.start:n.end]
	case n.esc:
		return []byte(gjson.ParseBytes(v.d.data[n.start:n.end]).Str)
	}
	return v.d.data[n.start+1 : n.end-1]
}

// text is toText as a string: a substring of d.text where there is one,
// which saves a copy per value.
func (v jv) text() string {
	n := &v.d.nodes[v.i]
	switch {
	case v.d.text == "" || n.bare || n.esc:
		return string(toText(v))
	case n.kind == jString:
		return v.d.text[n.start+1 : n.end-1]
	}
	return v.d.text[n.start:n.end]
}

// members returns the index of a container's first member (an object's
// first key) and the index past its last.
func (v jv) members() (first, end int) {
	return v.i + 1, v.d.nodes[v.i].next
}

// root is the document's top value.
func (d *doc) root() jv { return jv{d, 0} }

// at returns node i as a value.
func (d *doc) at(i int) jv { return jv{d, i} }

// bareString makes d a document of one string with the given content.
func (d *doc) bareString(s string) jv {
	d.data, d.text = []byte(s), ""
	d.nodes = append(d.nodes[:0], node{kind: jString, end: len(s), next: 1, bare: true})
	return d.root()
}

// token makes d a document of one scalar token whose text is taken as is.
func (d *doc) token(kind jkind, text string) jv {
	d.data, d.text = []byte(text), ""
	d.nodes = append(d.nodes[:0], node{kind: kind, end: len(text), next: 1})
	return d.root()
}
