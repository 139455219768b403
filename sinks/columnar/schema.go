// Package columnar converts JSON records into Parquet or ORC files, one
// row per record, by a schema read from YAML (see the spec's config.md,
// "Schemas", and delivery.md, "Format conversion").
//
// An Encoder is built once per destination from a Schema, a format and a
// compression; each file is a Writer fed one record at a time. A record
// that does not fit the schema is rejected with a *ConversionError and
// leaves the file valid, so the caller can back that record up and keep
// the rest. Rows are buffered only up to a row group (Parquet) or stripe
// (ORC), which is then written out, so memory stays bounded however large
// a file grows.
//
// Every value is converted to its column's exact type before it reaches a
// format library: the libraries silently truncate or panic on loose input.
package columnar

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/itchyny/gojq"
	"gopkg.in/yaml.v3"
)

// Schema is a parsed schema file. It is immutable and safe for concurrent
// use.
type Schema struct {
	// Name is where the schema came from (a file name), used in errors.
	Name string
	// Columns in file order.
	Columns []Column
	// CaseInsensitive matches JSON keys to column and struct field names
	// ignoring case (OpenX JSON SerDe style); an exact match still wins.
	CaseInsensitive bool
}

// Column is one top-level column.
type Column struct {
	Name string
	Type *Type
	// From is the jq expression computing the value from the record;
	// empty means the record's field named Name.
	From string
	code *gojq.Code
}

// LoadSchema reads and parses a schema file.
func LoadSchema(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return ParseSchema(path, data)
}

// ParseSchema parses a schema document; name (a file name) prefixes every
// problem as NAME:LINE:COL: path: message. All problems are reported at
// once, joined.
func ParseSchema(name string, data []byte) (*Schema, error) {
	p := &schemaParser{name: name, s: &Schema{Name: name}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s:1:1: empty schema: want a mapping with columns", name)
	}
	p.root(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.s, nil
}

type schemaParser struct {
	name string
	s    *Schema
	errs []error
}

func (p *schemaParser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d:%d: %s: %s", p.name, n.Line, n.Column, path, fmt.Sprintf(format, args...)))
}

func (p *schemaParser) root(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "schema", "want a mapping with columns")
		return
	}
	var cols *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "columns":
			cols = v
		case "case_insensitive":
			if err := v.Decode(&p.s.CaseInsensitive); err != nil || v.Kind != yaml.ScalarNode {
				p.errorf(v, "case_insensitive", "want true or false")
			}
		default:
			p.errorf(k, k.Value, "unknown field (want columns, case_insensitive)")
		}
	}
	if cols == nil {
		p.errorf(n, "columns", "missing")
		return
	}
	if cols.Kind != yaml.SequenceNode || len(cols.Content) == 0 {
		p.errorf(cols, "columns", "want a non-empty list of columns")
		return
	}
	seen := map[string]bool{}
	for i, c := range cols.Content {
		path := fmt.Sprintf("columns[%d]", i)
		col, ok := p.column(c, path)
		if !ok {
			continue
		}
		key := col.Name
		if p.s.CaseInsensitive {
			key = strings.ToLower(key)
		}
		if seen[key] {
			p.errorf(c, path+".name", "duplicate column %q", col.Name)
			continue
		}
		seen[key] = true
		p.s.Columns = append(p.s.Columns, col)
	}
}

func (p *schemaParser) column(n *yaml.Node, path string) (Column, bool) {
	var col Column
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping with name and type")
		return col, false
	}
	ok := true
	var typeNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			p.errorf(v, path+"."+k.Value, "want a string")
			ok = false
			continue
		}
		switch k.Value {
		case "name":
			col.Name = v.Value
		case "type":
			typeNode = v
		case "from":
			col.From = v.Value
			code, err := compileFrom(v.Value)
			if err != nil {
				p.errorf(v, path+".from", "%v", err)
				ok = false
			}
			col.code = code
		default:
			p.errorf(k, path+"."+k.Value, "unknown field (want name, type, from)")
			ok = false
		}
	}
	if strings.TrimSpace(col.Name) == "" {
		p.errorf(n, path+".name", "missing or empty")
		ok = false
	}
	if typeNode == nil {
		p.errorf(n, path+".type", "missing")
		return col, false
	}
	t, err := ParseType(typeNode.Value)
	if err != nil {
		p.errorf(typeNode, path+".type", "%v", err)
		return col, false
	}
	col.Type = t
	return col, ok
}

// compileFrom compiles a column's jq expression.
func compileFrom(src string) (*gojq.Code, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty jq expression")
	}
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("jq: %w", err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("jq: %w", err)
	}
	return code, nil
}

// needsDocument reports whether some column has a jq expression, which
// needs the whole record decoded.
func (s *Schema) needsDocument() bool {
	for i := range s.Columns {
		if s.Columns[i].code != nil {
			return true
		}
	}
	return false
}
