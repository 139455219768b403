package iceberg

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	ice "github.com/apache/iceberg-go"

	"github.com/hydrant-io/hydrant/sinks/columnar"
)

// PartitionField is one field of a table's partition spec as configured:
// a transform of a top-level column.
type PartitionField struct {
	// Transform is identity, year, month, day, hour, bucket or truncate.
	Transform string
	// N is bucket's count or truncate's width.
	N int
	// Column is the source column.
	Column string
}

// partitionSyntax reads "col", "day(col)", "bucket(16, col)".
var partitionSyntax = regexp.MustCompile(`^\s*(?:([a-z]+)\(\s*(?:(\d+)\s*,\s*)?([^(),\s]+)\s*\)|([^(),\s]+))\s*$`)

// ParsePartitionField reads one partition_by entry: a column name
// (identity), year(col), month(col), day(col), hour(col),
// bucket(N, col) or truncate(W, col), as Spark writes them.
func ParsePartitionField(s string) (PartitionField, error) {
	m := partitionSyntax.FindStringSubmatch(s)
	if m == nil {
		return PartitionField{}, fmt.Errorf("partition field %q: want col, year(col), month(col), day(col), hour(col), bucket(N, col) or truncate(W, col)", s)
	}
	if m[4] != "" {
		return PartitionField{Transform: "identity", Column: m[4]}, nil
	}
	f := PartitionField{Transform: m[1], Column: m[3]}
	switch f.Transform {
	case "identity", "year", "month", "day", "hour":
		if m[2] != "" {
			return f, fmt.Errorf("partition field %q: %s takes only a column", s, f.Transform)
		}
	case "bucket", "truncate":
		n, err := strconv.Atoi(m[2])
		if err != nil || n < 1 || n > 1<<20 {
			return f, fmt.Errorf("partition field %q: %s needs a number from 1 to %d before the column", s, f.Transform, 1<<20)
		}
		f.N = n
	default:
		return f, fmt.Errorf("partition field %q: unknown transform %s (want year, month, day, hour, bucket or truncate)", s, f.Transform)
	}
	return f, nil
}

func (f PartitionField) transform() ice.Transform {
	switch f.Transform {
	case "year":
		return ice.YearTransform{}
	case "month":
		return ice.MonthTransform{}
	case "day":
		return ice.DayTransform{}
	case "hour":
		return ice.HourTransform{}
	case "bucket":
		return ice.BucketTransform{NumBuckets: f.N}
	case "truncate":
		return ice.TruncateTransform{Width: f.N}
	}
	return ice.IdentityTransform{}
}

// name is the partition field's name, as Spark and pyiceberg name them.
func (f PartitionField) name() string {
	switch f.Transform {
	case "identity":
		return f.Column
	case "truncate":
		return f.Column + "_trunc"
	}
	return f.Column + "_" + f.Transform
}

// partitionSpec binds fields to the table schema ts, for a new table.
func partitionSpec(fields []PartitionField, ts *ice.Schema) (*ice.PartitionSpec, error) {
	opts := make([]ice.PartitionOption, 0, len(fields))
	for _, f := range fields {
		src, ok := ts.FindFieldByName(f.Column)
		if !ok {
			return nil, fmt.Errorf("partition field %s: no column %s in the schema", f.name(), f.Column)
		}
		switch src.Type.(type) {
		case ice.DecimalType, *ice.ListType, *ice.MapType, *ice.StructType:
			// newPartitioner has no literal for these (see literal).
			return nil, fmt.Errorf("partition field %s: column %s is a %s (partition by a string, number, boolean, date, timestamp or binary column)", f.name(), f.Column, src.Type)
		}
		if !f.transform().CanTransform(src.Type) {
			return nil, fmt.Errorf("partition field %s: %s cannot be applied to %s column %s", f.name(), f.Transform, src.Type, f.Column)
		}
		opts = append(opts, ice.AddPartitionFieldBySourceID(src.ID, f.name(), f.transform(), ts, nil))
	}
	spec, err := ice.NewPartitionSpecOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("partition spec: %w", err)
	}
	return &spec, nil
}

// partitioner computes each record's partition under a table's spec.
type partitioner struct {
	spec   ice.PartitionSpec
	fields []ice.PartitionField
	kinds  []columnar.Kind // of each field's source column
	vals   *columnar.Values
	row    []any
	names  []string
}

// newPartitioner reads the source columns of spec (bound to the table
// schema ts) from records through the writer's schema s. It returns nil
// for an unpartitioned table.
func newPartitioner(spec ice.PartitionSpec, ts *ice.Schema, s *columnar.Schema) (*partitioner, error) {
	if spec.IsUnpartitioned() {
		return nil, nil
	}
	p := &partitioner{spec: spec}
	var cols []int
	for _, f := range spec.Fields() {
		src, ok := ts.FindFieldByID(f.SourceID())
		if !ok {
			return nil, fmt.Errorf("partition field %s: source column %d is not in the table schema", f.Name, f.SourceID())
		}
		i := columnIndex(s, src.Name)
		if i < 0 {
			return nil, fmt.Errorf("partition field %s: source column %s is not written (not in the schema file)", f.Name, src.Name)
		}
		if k := s.Columns[i].Type.Kind; !s.Columns[i].Type.Primitive() || k == columnar.Decimal {
			return nil, fmt.Errorf("partition field %s: source column %s is a %s (partition by a string, number, boolean, date, timestamp or binary column)", f.Name, src.Name, k)
		}
		p.fields = append(p.fields, f)
		p.kinds = append(p.kinds, s.Columns[i].Type.Kind)
		p.names = append(p.names, f.Name)
		cols = append(cols, i)
	}
	vals, err := columnar.NewValues(s, cols)
	if err != nil {
		return nil, err
	}
	p.vals, p.row = vals, make([]any, len(cols))
	return p, nil
}

func columnIndex(s *columnar.Schema, name string) int {
	for i, c := range s.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// partition is one record's partition: its values by partition field id,
// and a key equal for records of the same partition.
type partition struct {
	key    string
	values map[int]any
	path   string // name=value/..., the data file's directory
}

// of computes data's partition; a record whose source value does not
// convert fails with a *columnar.ConversionError.
func (p *partitioner) of(data []byte) (partition, error) {
	if err := p.vals.Get(data, p.row); err != nil {
		return partition{}, err
	}
	part := partition{values: make(map[int]any, len(p.fields))}
	var key, path strings.Builder
	for i, f := range p.fields {
		out := f.Transform.Apply(literal(p.kinds[i], p.row[i]))
		var text string
		if out.Valid {
			part.values[f.FieldID] = out.Val.Any()
			text = out.Val.String()
			key.WriteString("v")
		} else {
			part.values[f.FieldID] = nil
			text = "null"
			key.WriteString("n")
		}
		key.WriteString(strconv.Itoa(len(text)))
		key.WriteString(":")
		key.WriteString(text)
		if i > 0 {
			path.WriteByte('/')
		}
		path.WriteString(pathSafe(p.names[i]) + "=" + pathSafe(text))
	}
	part.key, part.path = key.String(), path.String()
	return part, nil
}

// literal is a converted value of kind k (see package columnar) as an
// Iceberg literal; not valid for null.
func literal(k columnar.Kind, v any) ice.Optional[ice.Literal] {
	var lit ice.Literal
	switch x := v.(type) {
	case int64:
		if k == columnar.Timestamp {
			lit = ice.NewLiteral(ice.Timestamp(x))
		} else {
			lit = ice.NewLiteral(x)
		}
	case int32:
		if k == columnar.Date {
			lit = ice.NewLiteral(ice.Date(x))
		} else {
			lit = ice.NewLiteral(x)
		}
	case string:
		lit = ice.NewLiteral(x)
	case float32:
		lit = ice.NewLiteral(x)
	case float64:
		lit = ice.NewLiteral(x)
	case bool:
		lit = ice.NewLiteral(x)
	case []byte:
		lit = ice.NewLiteral(x)
	default:
		return ice.Optional[ice.Literal]{}
	}
	return ice.Optional[ice.Literal]{Valid: true, Val: lit}
}

// pathSafe keeps letters, digits, '.', '_' and '-' of s and replaces the
// rest with '_': a partition's directory is only for people to read.
func pathSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}
