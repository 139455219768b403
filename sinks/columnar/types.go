package columnar

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of a column type.
type Kind uint8

// The column type kinds of a schema (see the spec's config.md, "Schemas").
const (
	String Kind = iota + 1
	Int32
	Int64
	Float
	Double
	Boolean
	Timestamp // UTC, microseconds
	Date      // days since 1970-01-01
	Decimal   // Precision and Scale
	Binary    // base64 in JSON
	List      // Elem
	Struct    // Fields
	Map       // Key and Elem (the value type)
)

// kindNames spells each kind as in a schema.
var kindNames = [...]string{
	String: "string", Int32: "int32", Int64: "int64", Float: "float",
	Double: "double", Boolean: "boolean", Timestamp: "timestamp",
	Date: "date", Decimal: "decimal", Binary: "binary", List: "list",
	Struct: "struct", Map: "map",
}

// String returns the kind's name as spelled in a schema.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// primitives maps the schema spelling of each primitive kind.
var primitives = map[string]Kind{
	"string": String, "int32": Int32, "int64": Int64, "float": Float,
	"double": Double, "boolean": Boolean, "timestamp": Timestamp,
	"date": Date, "binary": Binary,
}

// MaxDecimalPrecision is the largest decimal precision a schema may use
// (Hive's, Parquet's 16-byte and ORC's limit).
const MaxDecimalPrecision = 38

// maxTypeDepth bounds nesting so that a hostile schema cannot exhaust the
// stack of the recursive parser and converters.
const maxTypeDepth = 32

// Type is a column type. It is immutable once parsed.
type Type struct {
	Kind Kind
	// Precision and Scale of a Decimal.
	Precision, Scale int
	// Key is a Map's key type (a primitive other than binary).
	Key *Type
	// Elem is a List's element type or a Map's value type.
	Elem *Type
	// Fields of a Struct, in declaration order.
	Fields []Field
}

// Field is a named member of a struct type.
type Field struct {
	Name string
	Type *Type
}

// Primitive reports whether t has no children.
func (t *Type) Primitive() bool { return t.Kind < List }

// String returns t in schema syntax, e.g. "struct<os:string,tags:list<string>>".
func (t *Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t *Type) write(b *strings.Builder) {
	switch t.Kind {
	case Decimal:
		fmt.Fprintf(b, "decimal(%d,%d)", t.Precision, t.Scale)
	case List:
		b.WriteString("list<")
		t.Elem.write(b)
		b.WriteByte('>')
	case Map:
		b.WriteString("map<")
		t.Key.write(b)
		b.WriteByte(',')
		t.Elem.write(b)
		b.WriteByte('>')
	case Struct:
		b.WriteString("struct<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			if isIdent(f.Name) {
				b.WriteString(f.Name)
			} else {
				b.WriteByte('`')
				b.WriteString(strings.ReplaceAll(f.Name, "`", "``"))
				b.WriteByte('`')
			}
			b.WriteByte(':')
			f.Type.write(b)
		}
		b.WriteByte('>')
	default:
		b.WriteString(t.Kind.String())
	}
}

// ParseType parses a type in schema syntax: a primitive name,
// "decimal(p,s)", "list<T>", "map<K,V>" or "struct<name:T,...>". A struct
// field name that is not an identifier is written in backquotes (a
// backquote inside is doubled), as in Hive.
func ParseType(s string) (*Type, error) {
	p := &typeParser{s: s}
	t, err := p.parse(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %q after the type", p.s[p.i:])
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("type %q at offset %d: %s", p.s, p.i, fmt.Sprintf(format, args...))
}

func (p *typeParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// expect consumes c (after spaces) or fails.
func (p *typeParser) expect(c byte) error {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != c {
		return p.errorf("expected %q", c)
	}
	p.i++
	return nil
}

// peek reports whether the next non-space byte is c, consuming it if so.
func (p *typeParser) accept(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *typeParser) word() string {
	p.space()
	start := p.i
	for p.i < len(p.s) && isIdentByte(p.s[p.i], p.i > start) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *typeParser) number() (int, error) {
	p.space()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' && p.i-start < 4 {
		p.i++
	}
	if start == p.i {
		return 0, p.errorf("expected a number")
	}
	return strconv.Atoi(p.s[start:p.i])
}

func (p *typeParser) parse(depth int) (*Type, error) {
	if depth > maxTypeDepth {
		return nil, p.errorf("types nested deeper than %d", maxTypeDepth)
	}
	name := p.word()
	if k, ok := primitives[strings.ToLower(name)]; ok {
		return &Type{Kind: k}, nil
	}
	switch strings.ToLower(name) {
	case "decimal":
		return p.decimal()
	case "list", "array":
		if err := p.expect('<'); err != nil {
			return nil, err
		}
		elem, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Type{Kind: List, Elem: elem}, p.expect('>')
	case "map":
		return p.mapType(depth)
	case "struct":
		return p.structType(depth)
	case "":
		return nil, p.errorf("expected a type")
	}
	return nil, p.errorf("unknown type %q (want string, int32, int64, float, double, boolean, timestamp, date, decimal(p,s), binary, list<T>, struct<...> or map<K,V>)", name)
}

func (p *typeParser) decimal() (*Type, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	prec, err := p.number()
	if err != nil {
		return nil, err
	}
	if err := p.expect(','); err != nil {
		return nil, err
	}
	scale, err := p.number()
	if err != nil {
		return nil, err
	}
	if err := p.expect(')'); err != nil {
		return nil, err
	}
	if prec < 1 || prec > MaxDecimalPrecision {
		return nil, p.errorf("decimal precision %d out of range 1..%d", prec, MaxDecimalPrecision)
	}
	if scale > prec {
		return nil, p.errorf("decimal scale %d greater than precision %d", scale, prec)
	}
	return &Type{Kind: Decimal, Precision: prec, Scale: scale}, nil
}

func (p *typeParser) mapType(depth int) (*Type, error) {
	if err := p.expect('<'); err != nil {
		return nil, err
	}
	key, err := p.parse(depth + 1)
	if err != nil {
		return nil, err
	}
	if !key.Primitive() || key.Kind == Binary {
		return nil, p.errorf("map key type %s must be a primitive other than binary", key)
	}
	if err := p.expect(','); err != nil {
		return nil, err
	}
	val, err := p.parse(depth + 1)
	if err != nil {
		return nil, err
	}
	return &Type{Kind: Map, Key: key, Elem: val}, p.expect('>')
}

func (p *typeParser) structType(depth int) (*Type, error) {
	if err := p.expect('<'); err != nil {
		return nil, err
	}
	t := &Type{Kind: Struct}
	seen := map[string]bool{}
	for {
		name, err := p.fieldName()
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, p.errorf("duplicate struct field %q", name)
		}
		seen[name] = true
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		ft, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		t.Fields = append(t.Fields, Field{Name: name, Type: ft})
		if p.accept('>') {
			return t, nil
		}
		if err := p.expect(','); err != nil {
			return nil, p.errorf("expected ',' or '>'")
		}
	}
}

// fieldName reads an identifier or a backquoted name.
func (p *typeParser) fieldName() (string, error) {
	if !p.accept('`') {
		name := p.word()
		if name == "" {
			return "", p.errorf("expected a field name")
		}
		return name, nil
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '`' {
			b.WriteByte(c)
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '`' {
			b.WriteByte('`')
			p.i++
			continue
		}
		if b.Len() == 0 {
			return "", p.errorf("empty field name")
		}
		return b.String(), nil
	}
	return "", p.errorf("unterminated backquoted field name")
}

func isIdentByte(c byte, notFirst bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || notFirst && c >= '0' && c <= '9'
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i], i > 0) {
			return false
		}
	}
	// A keyword-looking name is still an identifier here: the parser
	// only treats a word as a type where a type is expected.
	return true
}
