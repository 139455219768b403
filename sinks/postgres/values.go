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
			return f, nil
		}
	case oidNumeric:
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = strings.TrimSpace(x)
		case int:
			s = strconv.Itoa(x)
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case *big.Int:
			s = x.String()
		}
		var n pgtype.Numeric
		if s != "" && n.Scan(s) == nil {
			return n, nil
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
		if c.oid == oidJSONB && strings.Contains(string(b), `\u0000`) {
			return nil, errors.New(`\u0000 in a jsonb value, which PostgreSQL cannot store`)
		}
		return b, nil
	case oidDate, oidTimestamp, oidTimestamptz:
		if t, ok := toTime(v, c.oid == oidDate); ok {
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

// toInt accepts integral numbers and strings that hold one.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		return parseInt(x.String())
	case string:
		return parseInt(strings.TrimSpace(x))
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), true
		}
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

// parseInt reads an integer, also written with a zero fraction or an
// exponent (JSON writers emit 1e3 or 5.0 for integral values).
func parseInt(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, ok := new(big.Float).SetString(s)
	if !ok || !f.IsInt() {
		return 0, false
	}
	n, acc := f.Int64()
	return n, acc == big.Exact
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

// timeLayouts are the text forms a timestamp is read from: RFC 3339, and
// the same with a space or without a zone (read as UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// toTime reads RFC 3339 text (a date alone for a date column) or a number
// of seconds since the Unix epoch.
func toTime(v any, date bool) (time.Time, bool) {
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if date {
			if t, err := time.Parse(time.DateOnly, s); err == nil {
				return t, true
			}
		}
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), true
			}
		}
		return time.Time{}, false
	}
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
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
