package columnar

import (
	"fmt"

	"github.com/hydrant-io/hydrant/sinks/columnar/orc"
)

// orcSchema maps a schema to an ORC struct type, columns in order.
func orcSchema(s *Schema) *orc.Type {
	root := &orc.Type{Kind: orc.Struct}
	for _, c := range s.Columns {
		root.FieldNames = append(root.FieldNames, c.Name)
		root.Children = append(root.Children, orcType(c.Type))
	}
	return root
}

func orcType(t *Type) *orc.Type {
	switch t.Kind {
	case String:
		return &orc.Type{Kind: orc.String}
	case Int32:
		return &orc.Type{Kind: orc.Int}
	case Int64:
		return &orc.Type{Kind: orc.Long}
	case Float:
		return &orc.Type{Kind: orc.Float}
	case Double:
		return &orc.Type{Kind: orc.Double}
	case Boolean:
		return &orc.Type{Kind: orc.Boolean}
	case Timestamp:
		return &orc.Type{Kind: orc.Timestamp}
	case Date:
		return &orc.Type{Kind: orc.Date}
	case Decimal:
		return &orc.Type{Kind: orc.Decimal, Precision: t.Precision, Scale: t.Scale}
	case Binary:
		return &orc.Type{Kind: orc.Binary}
	case List:
		return &orc.Type{Kind: orc.List, Children: []*orc.Type{orcType(t.Elem)}}
	case Map:
		return &orc.Type{Kind: orc.Map, Children: []*orc.Type{orcType(t.Key), orcType(t.Elem)}}
	case Struct:
		st := &orc.Type{Kind: orc.Struct}
		for _, f := range t.Fields {
			st.FieldNames = append(st.FieldNames, f.Name)
			st.Children = append(st.Children, orcType(f.Type))
		}
		return st
	}
	panic(fmt.Sprintf("columnar: orc type for %v", t.Kind)) // ParseType admits no other kind
}

// orcFile adapts orc.Writer: the converter's typed values are exactly
// the Go types package orc takes.
type orcFile struct {
	w    *orc.Writer
	conv *converter
	rec  *record
	row  []any
}

func newORCFile(w *orc.Writer, c *converter) *orcFile {
	return &orcFile{w: w, conv: c, rec: newRecord(c), row: make([]any, len(c.s.Columns))}
}

func (f *orcFile) convert(data []byte) error { return f.conv.row(data, f.row, f.rec) }
func (f *orcFile) writeRow() error           { return f.w.Write(f.row) }
func (f *orcFile) flush() error              { return f.w.Flush() }
func (f *orcFile) close() error              { return f.w.Close() }
