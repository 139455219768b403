package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hydrant-io/hydrant/sinks/columnar"
)

// column is one mapped column as the table declares it.
type column struct {
	name    string
	oid     uint32
	typmod  int32 // -1 when none; varchar(n) and char(n) store n+4
	notNull bool
	typ     string // format_type(), for messages
}

// Type OIDs Hydrant converts to (pg_type.oid, stable across versions).
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// supported reports whether values can be converted to the column's type.
func supported(oid uint32) bool {
	switch oid {
	case oidBool, oidInt2, oidInt4, oidInt8, oidFloat4, oidFloat8, oidNumeric, oidText, oidVarchar, oidBPChar,
		oidJSON, oidJSONB, oidDate, oidTimestamp, oidTimestamptz, oidUUID:
		return true
	}
	return false
}

// SupportedTypes lists the column types values are converted to, for
// messages and docs.
const SupportedTypes = "boolean, smallint, integer, bigint, real, double precision, numeric, text, varchar(n), char(n), json, jsonb, date, timestamp, timestamptz, uuid"

// convert turns v, a jq result over a JSON document (nil, bool, string,
// json.Number, int, float64, *big.Int, []any, map[string]any), into a
// value pgx encodes for c's type, or says why it does not fit.
func convert(v any, c *column) (any, error) {
	if v == nil {
		if c.notNull {
			return nil, errors.New("null (or a missing field) into a NOT NULL column")
		}
		return nil, nil
	}
	switch c.oid {
	case oidBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
	case oidInt2, oidInt4, oidInt8:
		n, ok := toInt(v)
		if !ok {
			break
		}
		lo, hi := intRange(c.oid)
		if n < lo || n > hi {
			return nil, fmt.Errorf("%d is out of range for %s", n, c.typ)
		}
		return n, nil
	case oidFloat4, oidFloat8:
		if f, ok := toFloat(v); ok {
			if c.oid == oidFloat4 && math.Abs(f) > math.MaxFloat32 && !math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s is out of range for %s", describe(v), c.typ)
			}
			return f, nil
		}
	case oidNumeric:
		if text, ok := numberText(v); ok {
			if n, exp, ok := columnar.SplitDecimal(text); ok {
				return pgtype.Numeric{Int: n, Exp: int32(exp), Valid: true}, nil
			}
		}
	case oidText, oidVarchar, oidBPChar:
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			s = string(b)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("text with a NUL character, which PostgreSQL cannot store")
		}
		if c.typmod > 4 {
			if n, max := utf8.RuneCountInString(s), int(c.typmod-4); n > max {
				return nil, fmt.Errorf("value of %d characters is too long for %s", n, c.typ)
			}
		}
		return s, nil
	case oidJSON, oidJSONB:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if c.oid == oidJSONB && hasNUL(v) {
			return nil, errors.New(`\u0000 in a jsonb value, which PostgreSQL cannot store`)
		}
		return b, nil
	case oidDate:
		if t, ok := toDate(v); ok {
			return t, nil
		}
	case oidTimestamp, oidTimestamptz:
		if t, ok := toTime(v); ok {
			return t, nil
		}
	case oidUUID:
		if s, ok := v.(string); ok {
			if u, err := uuid.Parse(s); err == nil {
				return pgtype.UUID{Bytes: u, Valid: true}, nil
			}
		}
	default:
		return nil, fmt.Errorf("column type %s is not supported (supported: %s)", c.typ, SupportedTypes)
	}
	return nil, fmt.Errorf("%s is not a valid %s", describe(v), c.typ)
}

func intRange(oid uint32) (lo, hi int64) {
	switch oid {
	case oidInt2:
		return math.MinInt16, math.MaxInt16
	case oidInt4:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// toInt accepts integral numbers and strings that hold one, read exactly
// (1e3 and 5.0 are integers; 1.00000000000000000001 is not).
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), true
		}
		return 0, false
	case *big.Int:
		return x.Int64(), x.IsInt64()
	}
	text, ok := numberText(v)
	if !ok {
		return 0, false
	}
	n, exp, ok := columnar.SplitDecimal(text)
	if !ok || exp > 18 {
		return 0, false
	}
	ten := big.NewInt(10)
	if exp >= 0 {
		n.Mul(n, new(big.Int).Exp(ten, big.NewInt(int64(exp)), nil))
	} else {
		q, r := new(big.Int).QuoRem(n, new(big.Int).Exp(ten, big.NewInt(int64(-exp)), nil), new(big.Int))
		if r.Sign() != 0 {
			return 0, false
		}
		n = q
	}
	return n.Int64(), n.IsInt64()
}

// numberText is v's decimal text when v is a number or a string: what
// exact conversions read.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return x.String(), true
	case string:
		return strings.TrimSpace(x), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case *big.Int:
		return x.String(), true
	}
	return "", false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	case int:
		return float64(x), true
	case float64:
		return x, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	}
	return 0, false
}

// toTime reads a timestamp as the columnar formats do
// (columnar.TimestampMicros, columnar.EpochMicros): RFC 3339 text, or
// epoch seconds (milliseconds above 10^11), exactly, to the microsecond.
func toTime(v any) (time.Time, bool) {
	var us int64
	var err error
	if s, ok := v.(string); ok {
		us, err = columnar.TimestampMicros(s)
	} else if text, ok := numberText(v); ok {
		us, err = columnar.EpochMicros(text)
	} else {
		return time.Time{}, false
	}
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMicro(us).UTC(), true
}

// toDate reads yyyy-MM-dd, or the date a timestamp string is written
// with, as PostgreSQL does: 2024-03-10T23:30:00-08:00 is 2024-03-10.
// Numbers are refused (days or seconds would be a guess).
func toDate(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	s = strings.TrimSpace(s)
	if len(s) > 10 && (s[10] == 'T' || s[10] == ' ') {
		if _, err := columnar.TimestampMicros(s); err != nil {
			return time.Time{}, false // not a timestamp after all
		}
		s = s[:10]
	}
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// hasNUL reports whether a string (or key) anywhere in v holds U+0000.
func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// describe renders a value for an error message, shortened.
func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%T", v)
	}
	if len(b) > 64 {
		return string(b[:61]) + "..."
	}
	return string(b)
}
