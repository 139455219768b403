package iceberg

import (
	"errors"
	"strings"
	"testing"
	"time"

	ice "github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/columnar"
)

func TestParsePartitionField(t *testing.T) {
	tests := []struct {
		in   string
		want PartitionField
	}{
		{"user", PartitionField{Transform: "identity", Column: "user"}},
		{"  user  ", PartitionField{Transform: "identity", Column: "user"}},
		{"identity(user)", PartitionField{Transform: "identity", Column: "user"}},
		{"year(ts)", PartitionField{Transform: "year", Column: "ts"}},
		{"month(ts)", PartitionField{Transform: "month", Column: "ts"}},
		{"day(ts)", PartitionField{Transform: "day", Column: "ts"}},
		{"hour(ts)", PartitionField{Transform: "hour", Column: "ts"}},
		{"day( ts )", PartitionField{Transform: "day", Column: "ts"}},
		{"bucket(16, user)", PartitionField{Transform: "bucket", N: 16, Column: "user"}},
		{"bucket(16,user)", PartitionField{Transform: "bucket", N: 16, Column: "user"}},
		{" bucket( 7 ,  user ) ", PartitionField{Transform: "bucket", N: 7, Column: "user"}},
		{"bucket(1048576, user)", PartitionField{Transform: "bucket", N: 1 << 20, Column: "user"}},
		{"truncate(4, name)", PartitionField{Transform: "truncate", N: 4, Column: "name"}},
		{"truncate(010, name)", PartitionField{Transform: "truncate", N: 10, Column: "name"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePartitionField(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParsePartitionField_Refused(t *testing.T) {
	tests := []struct {
		in, want string // want: a part of the message besides the input
	}{
		{"", "want col, year(col)"},
		{"   ", "want col, year(col)"},
		{"week(ts)", "unknown transform week"},
		{"bucket(user)", "bucket needs a number from 1 to 1048576"},
		{"bucket(0, user)", "bucket needs a number from 1 to 1048576"},
		{"bucket(1048577, user)", "bucket needs a number from 1 to 1048576"},
		{"bucket(99999999999999999999999, user)", "bucket needs a number"},
		{"truncate(name)", "truncate needs a number"},
		{"bucket(-1, user)", "want col"},
		{"day(3, ts)", "day takes only a column"},
		{"identity(2, ts)", "identity takes only a column"},
		{"day(month(ts))", "want col"},
		{"day((ts))", "want col"},
		{"day(ts", "want col"},
		{"day ts", "want col"},
		{"Day(ts)", "want col"},
		{"bucket(16, a, b)", "want col"},
		{"day()", "want col"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParsePartitionField(tt.in)
			require.Error(t, err)
			require.Contains(t, err.Error(), `partition field "`+tt.in+`"`)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPartitionFieldName(t *testing.T) {
	tests := []struct {
		f    PartitionField
		want string
	}{
		{PartitionField{Transform: "identity", Column: "user"}, "user"},
		{PartitionField{Transform: "truncate", N: 3, Column: "user"}, "user_trunc"},
		{PartitionField{Transform: "bucket", N: 16, Column: "user"}, "user_bucket"},
		{PartitionField{Transform: "year", Column: "ts"}, "ts_year"},
		{PartitionField{Transform: "month", Column: "ts"}, "ts_month"},
		{PartitionField{Transform: "day", Column: "ts"}, "ts_day"},
		{PartitionField{Transform: "hour", Column: "ts"}, "ts_hour"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.f.name(), "%+v", tt.f)
	}
}

func mustSchema(t testing.TB, yaml string) *columnar.Schema {
	t.Helper()
	s, err := columnar.ParseSchema("s.yaml", []byte(yaml))
	require.NoError(t, err)
	return s
}

func mustFields(t testing.TB, specs ...string) []PartitionField {
	t.Helper()
	out := make([]PartitionField, len(specs))
	for i, s := range specs {
		f, err := ParsePartitionField(s)
		require.NoError(t, err)
		out[i] = f
	}
	return out
}

const eventSchema = `columns:
  - { name: ts, type: timestamp }
  - { name: user, type: string }
  - { name: day, type: date }
  - { name: n, type: int64 }
  - { name: amount, type: "decimal(10,2)" }
  - { name: tags, type: "list<string>" }
`

func TestPartitionSpec(t *testing.T) {
	ts := TableSchema(mustSchema(t, eventSchema))
	spec, err := partitionSpec(mustFields(t, "day(ts)", "bucket(16, user)", "truncate(4, user)", "n"), ts)
	require.NoError(t, err)
	require.Equal(t, 4, spec.NumFields())

	tsField, _ := ts.FindFieldByName("ts")
	userField, _ := ts.FindFieldByName("user")
	nField, _ := ts.FindFieldByName("n")
	type got struct {
		name      string
		source    int
		transform ice.Transform
	}
	var fields []got
	for _, f := range spec.Fields() {
		fields = append(fields, got{f.Name, f.SourceID(), f.Transform})
	}
	require.Equal(t, []got{
		{"ts_day", tsField.ID, ice.DayTransform{}},
		{"user_bucket", userField.ID, ice.BucketTransform{NumBuckets: 16}},
		{"user_trunc", userField.ID, ice.TruncateTransform{Width: 4}},
		{"n", nField.ID, ice.IdentityTransform{}},
	}, fields)
}

func TestPartitionSpec_Refused(t *testing.T) {
	ts := TableSchema(mustSchema(t, eventSchema))
	tests := []struct {
		fields []string
		want   string
	}{
		{[]string{"day(user)"}, "partition field user_day: day cannot be applied to string column user"},
		{[]string{"hour(day)"}, "partition field day_hour: hour cannot be applied to date column day"},
		{[]string{"nosuch"}, "partition field nosuch: no column nosuch in the schema"},
		{[]string{"user", "bucket(4, nosuch)"}, "no column nosuch in the schema"},
		{[]string{"tags"}, "partition field tags: column tags is a list<string>"},
		// Iceberg refuses two time transforms of one column.
		{[]string{"day(ts)", "hour(ts)"}, "redundant partition field"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.fields, ","), func(t *testing.T) {
			_, err := partitionSpec(mustFields(t, tt.fields...), ts)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// withFieldIDs numbers spec's fields from 1000 as a catalog does when
// it creates the table (partitionSpec leaves that to the catalog).
func withFieldIDs(spec *ice.PartitionSpec) ice.PartitionSpec {
	var fields []ice.PartitionField
	for i, f := range spec.Fields() {
		f.FieldID = 1000 + i
		fields = append(fields, f)
	}
	return ice.NewPartitionSpecID(0, fields...)
}

// newTestPartitioner binds specs to the table made from the schema yaml.
func newTestPartitioner(t *testing.T, yaml string, specs ...string) (*partitioner, map[string]int) {
	t.Helper()
	s := mustSchema(t, yaml)
	ts := TableSchema(s)
	spec, err := partitionSpec(mustFields(t, specs...), ts)
	require.NoError(t, err)
	fresh := withFieldIDs(spec)
	p, err := newPartitioner(fresh, ts, s)
	require.NoError(t, err)
	require.NotNil(t, p)
	ids := map[string]int{}
	for _, f := range fresh.Fields() {
		ids[f.Name] = f.FieldID
	}
	return p, ids
}

func TestPartitioner_Values(t *testing.T) {
	rec := []byte(`{"ts": "2026-12-07T22:10:00Z", "user": "u1xyz", "day": "2026-12-07", "n": 42}`)
	p, ids := newTestPartitioner(t, eventSchema,
		"day(ts)", "user", "bucket(16, user)", "truncate(3, user)", "day", "n")
	part, err := p.of(rec)
	require.NoError(t, err)
	require.Len(t, part.values, 6)

	// Days from 1970-01-01 to 2026-12-07: 56 years with 14 leap days
	// (1972..2024), then 334 days to December 1st of a common year, and 6.
	const days = 56*365 + 14 + 334 + 6
	require.Equal(t, 20794, days)
	at := time.Date(2026, 12, 7, 22, 10, 0, 0, time.UTC)
	require.Equal(t, days, int(at.Sub(time.Unix(0, 0).UTC())/(24*time.Hour)))
	dayOf := ice.DayTransform{}.Apply(ice.Optional[ice.Literal]{Valid: true, Val: ice.NewLiteral(ice.Timestamp(at.UnixMicro()))})
	require.True(t, dayOf.Valid)
	require.Equal(t, dayOf.Val.Any(), part.values[ids["ts_day"]])
	require.Equal(t, ice.Date(days), part.values[ids["ts_day"]])

	// One time transform of a column per spec (Iceberg refuses more).
	for _, tt := range []struct {
		field string
		want  int32
	}{
		{"year(ts)", 2026 - 1970},
		{"month(ts)", (2026-1970)*12 + 11},
		{"hour(ts)", days*24 + 22},
	} {
		q, qids := newTestPartitioner(t, eventSchema, tt.field)
		qpart, err := q.of(rec)
		require.NoError(t, err)
		f, _ := ParsePartitionField(tt.field)
		require.Equal(t, tt.want, qpart.values[qids[f.name()]], tt.field)
	}

	require.Equal(t, "u1xyz", part.values[ids["user"]])
	require.Equal(t, "u1x", part.values[ids["user_trunc"]])
	require.Equal(t, ice.Date(days), part.values[ids["day"]])
	require.Equal(t, int64(42), part.values[ids["n"]])

	bucket := ice.BucketTransform{NumBuckets: 16}.Apply(ice.Optional[ice.Literal]{Valid: true, Val: ice.NewLiteral("u1xyz")})
	require.True(t, bucket.Valid)
	require.Equal(t, bucket.Val.Any(), part.values[ids["user_bucket"]])
	b := part.values[ids["user_bucket"]].(int32)
	require.True(t, b >= 0 && b < 16, "bucket %d", b)
}

func TestPartitioner_BucketOfString(t *testing.T) {
	p, ids := newTestPartitioner(t, eventSchema, "bucket(16, user)")
	part, err := p.of([]byte(`{"user": "u1"}`))
	require.NoError(t, err)
	want := ice.BucketTransform{NumBuckets: 16}.Apply(ice.Optional[ice.Literal]{Valid: true, Val: ice.NewLiteral("u1")})
	require.True(t, want.Valid)
	require.Equal(t, want.Val.Any(), part.values[ids["user_bucket"]])
}

func TestPartitioner_BeforeEpoch(t *testing.T) {
	rec := []byte(`{"ts": "1969-12-31T23:30:00Z"}`)
	p, ids := newTestPartitioner(t, eventSchema, "day(ts)")
	part, err := p.of(rec)
	require.NoError(t, err)
	require.Equal(t, ice.Date(-1), part.values[ids["ts_day"]])
	p, ids = newTestPartitioner(t, eventSchema, "hour(ts)")
	part, err = p.of(rec)
	require.NoError(t, err)
	require.Equal(t, int32(-1), part.values[ids["ts_hour"]])
}

func TestPartitioner_Null(t *testing.T) {
	p, ids := newTestPartitioner(t, eventSchema, "user", "bucket(16, user)")
	null, err := p.of([]byte(`{"user": null}`))
	require.NoError(t, err)
	require.Contains(t, null.values, ids["user"])
	require.Nil(t, null.values[ids["user"]])
	require.Contains(t, null.values, ids["user_bucket"])
	require.Nil(t, null.values[ids["user_bucket"]])

	missing, err := p.of([]byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, null.key, missing.key, "a missing field is null too")

	for _, v := range []string{`"null"`, `""`, `"n4:null"`, `"nnull"`} {
		other, err := p.of([]byte(`{"user": ` + v + `}`))
		require.NoError(t, err)
		require.NotEqual(t, null.key, other.key, "user %s", v)
		require.NotNil(t, other.values[ids["user"]])
	}
}

func TestPartitioner_Keys(t *testing.T) {
	p, _ := newTestPartitioner(t, eventSchema, "day(ts)", "user")
	key := func(rec string) string {
		t.Helper()
		part, err := p.of([]byte(rec))
		require.NoError(t, err)
		return part.key
	}
	a := key(`{"ts": "2026-12-07T22:10:00Z", "user": "u1"}`)
	require.Equal(t, a, key(`{"ts": "2026-12-07T01:00:00Z", "user": "u1", "n": 3}`), "same day, same user")
	require.NotEqual(t, a, key(`{"ts": "2026-12-08T00:00:00Z", "user": "u1"}`), "next day")
	require.NotEqual(t, a, key(`{"ts": "2026-12-07T22:10:00Z", "user": "u2"}`), "other user")
	require.NotEqual(t, a, key(`{"user": "u1"}`), "null day")

	// The key is unambiguous where the values' texts could run together.
	q, _ := newTestPartitioner(t, "columns:\n  - { name: a, type: string }\n  - { name: b, type: string }\n", "a", "b")
	ka, err := q.of([]byte(`{"a": "x1:y", "b": "z"}`))
	require.NoError(t, err)
	kb, err := q.of([]byte(`{"a": "x", "b": "1:yz"}`))
	require.NoError(t, err)
	require.NotEqual(t, ka.key, kb.key)
}

func TestPartitioner_Path(t *testing.T) {
	p, _ := newTestPartitioner(t, eventSchema, "day(ts)", "user")
	part, err := p.of([]byte(`{"ts": "2026-12-07T22:10:00Z", "user": "a/b c"}`))
	require.NoError(t, err)
	require.Equal(t, "ts_day=2026-12-07/user=a_b_c", part.path)

	part, err = p.of([]byte(`{"user": "x"}`))
	require.NoError(t, err)
	require.Equal(t, "ts_day=null/user=x", part.path)
}

func TestPartitioner_BadValue(t *testing.T) {
	p, _ := newTestPartitioner(t, eventSchema, "day(ts)")
	for _, rec := range []string{`{"ts": "yesterday"}`, `{"ts": true}`} {
		_, err := p.of([]byte(rec))
		var ce *columnar.ConversionError
		require.True(t, errors.As(err, &ce), "%s: %v", rec, err)
		require.Equal(t, "ts", ce.Column)
	}
	_, err := p.of([]byte(`not json`))
	var ce *columnar.ConversionError
	require.True(t, errors.As(err, &ce), "%v", err)
}

func TestNewPartitioner(t *testing.T) {
	s := mustSchema(t, eventSchema)
	ts := TableSchema(s)

	p, err := newPartitioner(*ice.UnpartitionedSpec, ts, s)
	require.NoError(t, err)
	require.Nil(t, p, "unpartitioned")

	// The table partitions by a column the schema file does not write.
	spec, err := partitionSpec(mustFields(t, "user"), ts)
	require.NoError(t, err)
	_, err = newPartitioner(*spec, ts, mustSchema(t, "columns:\n  - { name: ts, type: timestamp }\n"))
	require.ErrorContains(t, err, "partition field user: source column user is not written")

	// A decimal source has no partition literal: refused when the spec is
	// built (at startup), not at every write.
	_, err = partitionSpec(mustFields(t, "amount"), ts)
	require.ErrorContains(t, err, "partition field amount: column amount is a decimal")
	_, err = partitionSpec(mustFields(t, "bucket(4, amount)"), ts)
	require.ErrorContains(t, err, "column amount is a decimal")
}

func TestPathSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc-XYZ_09.z", "abc-XYZ_09.z"},
		{"a/b", "a_b"},
		{"../..", ".._.."},
		{"a b=c", "a_b_c"},
		{"é", "_"},    // one rune, two bytes
		{"\xff", "_"}, // invalid UTF-8
		{"a\x00b", "a_b"},
		{"%2F", "_2F"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, pathSafe(tt.in), "%q", tt.in)
	}
}
