package postgres

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

func col(oid uint32, typ string) *column { return &column{name: "c", oid: oid, typmod: -1, typ: typ} }

func TestConvert(t *testing.T) {
	ts := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	varchar3 := &column{name: "c", oid: oidVarchar, typmod: 3 + 4, typ: "character varying(3)"}
	notNull := &column{name: "c", oid: oidText, typmod: -1, notNull: true, typ: "text"}
	ok := []struct {
		name string
		c    *column
		in   any
		want any
	}{
		{"null", col(oidText, "text"), nil, nil},
		{"bool", col(oidBool, "boolean"), true, true},
		{"bool text", col(oidBool, "boolean"), "false", false},
		{"int from json number", col(oidInt8, "bigint"), json.Number("9007199254740993"), int64(9007199254740993)},
		{"int from 1e3", col(oidInt4, "integer"), json.Number("1e3"), int64(1000)},
		{"int from 5.0", col(oidInt2, "smallint"), json.Number("5.0"), int64(5)},
		{"int from string", col(oidInt8, "bigint"), " 42 ", int64(42)},
		{"int from jq arithmetic", col(oidInt8, "bigint"), 7, int64(7)},
		{"int from big", col(oidInt8, "bigint"), big.NewInt(-3), int64(-3)},
		{"float", col(oidFloat8, "double precision"), json.Number("1.5"), 1.5},
		{"text as is", col(oidText, "text"), "héllo", "héllo"},
		{"text from object", col(oidText, "text"), map[string]any{"a": json.Number("1")}, `{"a":1}`},
		{"varchar fits", varchar3, "héé", "héé"},
		{"jsonb", col(oidJSONB, "jsonb"), []any{json.Number("1"), "x"}, []byte(`[1,"x"]`)},
		{"timestamptz", col(oidTimestamptz, "timestamp with time zone"), "2026-12-07T11:30:00+01:00", ts},
		{"timestamp no zone", col(oidTimestamp, "timestamp"), "2026-12-07 10:30:00", ts},
		{"timestamp epoch", col(oidTimestamptz, "timestamp with time zone"), json.Number("1796639400"), ts},
		{"date", col(oidDate, "date"), "2026-12-07", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{"date as written, not in UTC", col(oidDate, "date"), "2024-03-10T23:30:00-08:00", time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)},
		{"epoch with a fraction, exact", col(oidTimestamptz, "timestamp with time zone"), json.Number("1700000000.123457"), time.UnixMicro(1700000000123457).UTC()},
		{"epoch milliseconds", col(oidTimestamptz, "timestamp with time zone"), json.Number("1700000000123"), time.UnixMilli(1700000000123).UTC()},
		{"int with an exponent", col(oidInt8, "bigint"), json.Number("12e2"), int64(1200)},
		{"jsonb with a literal backslash-u0000 text", col(oidJSONB, "jsonb"), `\u0000`, []byte(`"\\u0000"`)},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := convert(tc.in, tc.c)
			require.NoError(t, err)
			if want, isTime := tc.want.(time.Time); isTime {
				require.True(t, want.Equal(got.(time.Time)), "%v", got)
				return
			}
			require.Equal(t, tc.want, got)
		})
	}

	for in, want := range map[string]string{"12.345": "12.345", "1E5": "100000", "1e-3": "0.001", "-2.5e+2": "-250", "123456789012345678901234567890": "123456789012345678901234567890"} {
		n, err := convert(json.Number(in), col(oidNumeric, "numeric"))
		require.NoError(t, err, in)
		v, err := n.(pgtype.Numeric).Value()
		require.NoError(t, err)
		require.Equal(t, want, v, in)
	}
	u, err := convert("6ba7b810-9dad-11d1-80b4-00c04fd430c8", col(oidUUID, "uuid"))
	require.NoError(t, err)
	require.True(t, u.(pgtype.UUID).Valid)

	bad := []struct {
		name string
		c    *column
		in   any
		want string
	}{
		{"null into not null", notNull, nil, "NOT NULL"},
		{"not a number", col(oidInt8, "bigint"), "abc", `"abc" is not a valid bigint`},
		{"fraction into int", col(oidInt4, "integer"), json.Number("1.5"), "not a valid integer"},
		{"tiny fraction into int", col(oidInt8, "bigint"), json.Number("1.00000000000000000001"), "not a valid bigint"},
		{"real overflow", col(oidFloat4, "real"), json.Number("1e300"), "out of range for real"},
		{"epoch number into date", col(oidDate, "date"), json.Number("1700000000"), "not a valid date"},
		{"out of range", col(oidInt2, "smallint"), json.Number("40000"), "out of range for smallint"},
		{"too long", varchar3, "abcd", "4 characters is too long for character varying(3)"},
		{"NUL in text", col(oidText, "text"), "a\x00b", "NUL"},
		{"NUL in jsonb", col(oidJSONB, "jsonb"), "a\x00b", `\u0000`},
		{"bad time", col(oidTimestamptz, "timestamp with time zone"), "yesterday", "not a valid timestamp"},
		{"bad uuid", col(oidUUID, "uuid"), "nope", "not a valid uuid"},
		{"bool from number", col(oidBool, "boolean"), json.Number("1"), "not a valid boolean"},
		{"unsupported type", col(600, "point"), "(1,2)", "not supported"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := convert(tc.in, tc.c)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// FuzzConvert: any JSON value into any supported type either converts or
// says why, never panics.
func FuzzConvert(f *testing.F) {
	for _, s := range []string{`1`, `"2026-12-07"`, `1e400`, `-0`, `"x"`, `{"a":[1,null]}`, `true`, `123456789012345678901234567890`} {
		f.Add(s, uint8(0))
	}
	oids := []uint32{oidBool, oidInt2, oidInt4, oidInt8, oidFloat4, oidFloat8, oidNumeric, oidText, oidVarchar, oidBPChar,
		oidJSON, oidJSONB, oidDate, oidTimestamp, oidTimestamptz, oidUUID}
	f.Fuzz(func(t *testing.T, doc string, which uint8) {
		var v any
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return
		}
		c := &column{name: "c", oid: oids[int(which)%len(oids)], typmod: 8, typ: "t"}
		if _, err := convert(v, c); err != nil && err.Error() == "" {
			t.Fatal("an error without a reason")
		}
	})
}
