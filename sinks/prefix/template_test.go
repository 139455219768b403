package prefix

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/stretchr/testify/require"
)

func date(y int, m time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, m, d, h, mi, s, ns, time.UTC)
}

// Expected values are what java.time.format.DateTimeFormatter (JDK 9+,
// Locale.ENGLISH, WeekFields.ISO for Y and w) prints.
func TestPrefix_JavaPatterns(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		at      time.Time
		want    string
	}{
		{"hourly layout", "yyyy/MM/dd/HH/", date(2018, 8, 27, 10, 30, 0, 0), "2018/08/27/10/"},
		{"uuuu is year", "uuuu-M-d", date(2024, 3, 5, 0, 0, 0, 0), "2024-3-5"},
		{"yy reduced", "yy", date(2005, 1, 1, 0, 0, 0, 0), "05"},
		{"y unpadded", "y", date(2005, 1, 1, 0, 0, 0, 0), "2005"},
		{"week year at year end", "YYYY-'W'ww", date(2024, 12, 30, 0, 0, 0, 0), "2025-W01"},
		{"week year at year start", "YYYY-ww", date(2021, 1, 1, 0, 0, 0, 0), "2020-53"},
		{"YY reduced week year", "YY", date(2021, 1, 1, 0, 0, 0, 0), "20"},
		{"DD is day of year padded to 2", "DD", date(2024, 2, 1, 0, 0, 0, 0), "32"},
		{"DD small", "DD", date(2024, 1, 5, 0, 0, 0, 0), "05"},
		{"DD three digits", "DD", date(2024, 12, 31, 0, 0, 0, 0), "366"},
		{"DDD", "DDD", date(2024, 2, 1, 0, 0, 0, 0), "032"},
		{"D", "D", date(2024, 2, 1, 0, 0, 0, 0), "32"},
		{"hh after midnight", "hh:mm a", date(2024, 1, 1, 0, 30, 0, 0), "12:30 AM"},
		{"hh afternoon", "hh h a", date(2024, 1, 1, 13, 5, 0, 0), "01 1 PM"},
		{"K and k", "K KK k kk", date(2024, 1, 1, 0, 0, 0, 0), "0 00 24 24"},
		{"HH midnight", "HH:mm:ss", date(2024, 1, 1, 0, 0, 9, 0), "00:00:09"},
		{"millis truncated", "ss.SSS", date(2024, 1, 1, 0, 0, 7, 123_987_000), "07.123"},
		{"one fraction digit", "S", date(2024, 1, 1, 0, 0, 7, 987_000_000), "9"},
		{"nanos", "SSSSSSSSS", date(2024, 1, 1, 0, 0, 0, 1), "000000001"},
		{"text fields", "EEE EEEE EEEEE MMM MMMM MMMMM", date(2024, 12, 30, 0, 0, 0, 0), "Mon Monday M Dec December D"},
		{"E", "E", date(2024, 12, 29, 0, 0, 0, 0), "Sun"},
		{"quoted literal", "yyyy'T'HH", date(2024, 1, 1, 10, 0, 0, 0), "2024T10"},
		{"escaped quote", "''yyyy''", date(2024, 1, 1, 0, 0, 0, 0), "'2024'"},
		{"quote in quoted", "'it''s' d", date(2024, 1, 2, 0, 0, 0, 0), "it's 2"},
		{"letters in quotes", "'year='yyyy", date(2024, 1, 2, 0, 0, 0, 0), "year=2024"},
		{"optional section printed", "yyyy[-MM]", date(2024, 1, 2, 0, 0, 0, 0), "2024-01"},
		{"other characters literal", "yyyy=MM_dd.HH:", date(2024, 1, 2, 3, 0, 0, 0), "2024=01_02.03:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse("!{timestamp:"+tt.pattern+"}", false)
			require.NoError(t, err)
			got, err := tmpl.Eval(Values{Time: tt.at})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPrefix_ParseErrors(t *testing.T) {
	tests := []struct {
		name, tmpl string
		errType    bool
		want       string
	}{
		{"unsupported letter", "!{timestamp:yyyy-QQ}", false, "unsupported pattern letter"},
		{"too many d", "!{timestamp:ddd}", false, "too many"},
		{"too many a", "!{timestamp:aa}", false, "too many"},
		{"unterminated quote", "!{timestamp:'abc}", false, "unterminated quote"},
		{"reserved #", "!{timestamp:yyyy#}", false, "reserved"},
		{"unterminated expression", "a/!{timestamp:yyyy", false, "unterminated expression"},
		{"no namespace", "!{yyyy}", false, "no namespace"},
		{"unknown namespace", "!{foo:bar}", false, "unknown namespace"},
		{"unknown firehose", "!{firehose:nope}", false, "unknown expression"},
		{"error type in prefix", "!{firehose:error-output-type}/", false, "only allowed"},
		{"key in error prefix", "!{firehose:error-output-type}/!{partitionKeyFromQuery:a}", true, "not allowed"},
		{"empty key name", "!{partitionKeyFromQuery:}", false, "empty partition key"},
		{"leading slash", "/logs/", false, "must not start"},
		{"dot dot", "logs/../x/", false, "'..'"},
		{"backslash", `logs\x/`, false, "backslashes"},
		{"too long", strings.Repeat("a", MaxPrefixLen+1), false, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.tmpl, tt.errType)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestPrefix_Eval(t *testing.T) {
	at := date(2018, 8, 27, 10, 30, 0, 0)
	meta := map[string]string{
		record.QueryKey("customer_id"): "c/1",
		record.QueryKey("dots"):        "..",
		record.LambdaKey("device"):     "phone",
	}
	tests := []struct {
		name, tmpl string
		errType    bool
		v          Values
		want       string
		err        error
	}{
		{"firehose example", "myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/", false,
			Values{Time: at}, "myPrefix/year=2018/month=08/day=27/hour=10/", nil},
		{"error type", "myFirehoseFailures/!{firehose:error-output-type}/", true,
			Values{Time: at, ErrorType: "processing-failed"}, "myFirehoseFailures/processing-failed/", nil},
		{"error type missing", "e/!{firehose:error-output-type}/", true, Values{Time: at}, "", ErrNoErrorType},
		{"partition keys escaped", "c=!{partitionKeyFromQuery:customer_id}/d=!{partitionKeyFromLambda:device}/", false,
			Values{Time: at, Meta: meta}, "c=c%2F1/d=phone/", nil},
		{"dots escaped", "!{partitionKeyFromQuery:dots}/", false, Values{Meta: meta}, "%2E%2E/", nil},
		{"query and lambda differ", "!{partitionKeyFromLambda:customer_id}/", false, Values{Meta: meta}, "", ErrMissingKey},
		{"missing key", "!{partitionKeyFromQuery:nope}/", false, Values{Meta: meta}, "", ErrMissingKey},
		{"location", "!{timestamp:HH}", false, Values{Time: at, Location: time.FixedZone("x", 9*3600)}, "19", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.tmpl, tt.errType)
			require.NoError(t, err)
			got, err := tmpl.Eval(tt.v)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPrefix_Escape(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "abc", want: "abc"},
		{in: "a/b", want: "a%2Fb"},
		{in: `a\b`, want: "a%5Cb"},
		{in: "50%", want: "50%25"},
		{in: "tab\there", want: "tab%09here"},
		{in: "del\x7f", want: "del%7F"},
		{in: ".", want: "%2E"},
		{in: "..", want: "%2E%2E"},
		{in: "a..b", want: "a..b"},
		{in: "héllo", want: "héllo"},
		{in: "bad\xffutf8", want: "bad%FFutf8"},
		{in: "", err: true},
		{in: strings.Repeat("x", MaxValueLen+1), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Escape(tt.in)
			if tt.err {
				require.ErrorIs(t, err, ErrInvalidValue)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPrefix_UnsafeCombination(t *testing.T) {
	// Two escaped-safe values can still meet; Eval's final check catches it.
	tmpl, err := Parse("x/!{partitionKeyFromQuery:a}!{partitionKeyFromQuery:b}/", false)
	require.NoError(t, err)
	_, err = tmpl.Eval(Values{Meta: map[string]string{record.QueryKey("a"): "a.", record.QueryKey("b"): ".b"}})
	require.NoError(t, err)
	got, err := tmpl.Eval(Values{Meta: map[string]string{record.QueryKey("a"): ".", record.QueryKey("b"): "."}})
	require.NoError(t, err, "dot-only values are escaped")
	require.Equal(t, "x/%2E%2E/", got)
}

func TestPrefix_RandomString(t *testing.T) {
	tmpl, err := Parse("!{firehose:random-string}/!{firehose:random-string}", false)
	require.NoError(t, err)
	got, err := tmpl.Eval(Values{})
	require.NoError(t, err)
	a, b, ok := strings.Cut(got, "/")
	require.True(t, ok)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{2}$`, a)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{2}$`, b)
	require.NotEqual(t, a, b, "each occurrence is a new value")

	// A seeded reader gives a repeatable value.
	seed := bytes.Repeat([]byte{7}, 64)
	x, err := tmpl.Eval(Values{Rand: bytes.NewReader(seed)})
	require.NoError(t, err)
	y, err := tmpl.Eval(Values{Rand: bytes.NewReader(seed)})
	require.NoError(t, err)
	require.Equal(t, x, y)
}

func TestPrefix_WithDefaultTime(t *testing.T) {
	at := date(2024, 1, 31, 23, 5, 0, 0)
	tests := []struct{ tmpl, want string }{
		{"", "2024/01/31/23/"},
		{"logs/", "logs/2024/01/31/23/"},
		{"logs", "logs2024/01/31/23/"},
		{"logs/!{timestamp:yyyy}/", "logs/2024/"},
		{"c=!{partitionKeyFromQuery:c}/", "c=x/"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tmpl, err := Parse(tt.tmpl, false)
			require.NoError(t, err)
			d := tmpl.WithDefaultTime()
			require.True(t, d.HasTimestamp() || d.HasPartitionKeys())
			got, err := d.Eval(Values{Time: at, Meta: map[string]string{record.QueryKey("c"): "x"}})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPrefix_Accessors(t *testing.T) {
	tmpl, err := Parse("!{partitionKeyFromQuery:a}/!{partitionKeyFromLambda:a}/!{partitionKeyFromQuery:a}/", false)
	require.NoError(t, err)
	require.Equal(t, []Key{{FromQuery, "a"}, {FromLambda, "a"}}, tmpl.Keys())
	require.True(t, tmpl.HasPartitionKeys())
	require.False(t, tmpl.HasTimestamp())
	require.False(t, tmpl.HasErrorType())
	require.Equal(t, "query.a", tmpl.Keys()[0].MetaKey())
	require.Equal(t, "lambda.a", tmpl.Keys()[1].MetaKey())
	require.Equal(t, "partitionKeyFromLambda:a", tmpl.Keys()[1].String())
}

func TestPrefix_Partition(t *testing.T) {
	tmpl, err := Parse("a=!{partitionKeyFromQuery:a}/b=!{partitionKeyFromLambda:b}/", false)
	require.NoError(t, err)
	p, err := tmpl.Partition(map[string]string{record.QueryKey("a"): "x/y", record.LambdaKey("b"): "z"})
	require.NoError(t, err)
	require.Equal(t, "x%2Fy/z", p)
	_, err = tmpl.Partition(map[string]string{record.QueryKey("a"): "x"})
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = tmpl.Partition(map[string]string{record.QueryKey("a"): "", record.LambdaKey("b"): "z"})
	require.ErrorIs(t, err, ErrInvalidValue)

	static, err := Parse("logs/", false)
	require.NoError(t, err)
	p, err = static.Partition(nil)
	require.NoError(t, err)
	require.Empty(t, p)
}
