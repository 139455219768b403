package columnar

import "fmt"

// Values converts some columns of JSON records to their typed values (see
// the list above converter), exactly as a Writer would write them. The
// Iceberg sink uses it for partition values, which must agree with the
// data in the file. It is not safe for concurrent use.
type Values struct {
	c    *converter
	r    *record
	cols []int
}

// NewValues extracts the columns cols (indexes into s.Columns).
func NewValues(s *Schema, cols []int) (*Values, error) {
	for _, i := range cols {
		if i < 0 || i >= len(s.Columns) {
			return nil, fmt.Errorf("columnar: column %d of %d", i, len(s.Columns))
		}
	}
	c := newConverter(s)
	return &Values{c: c, r: newRecord(c), cols: cols}, nil
}

// Get sets out[k] to the value of column cols[k] in data (nil for null).
// A record that does not fit fails with a *ConversionError.
func (v *Values) Get(data []byte, out []any) error {
	if err := v.c.parse(data, v.r); err != nil {
		return err
	}
	v.r.doc.text = string(data)
	for k, i := range v.cols {
		x, err := v.c.column(i, v.r)
		if err != nil {
			return err
		}
		out[k] = x
	}
	return nil
}
