package builtin

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

func TestJQMetadata(t *testing.T) {
	t.Setenv("HYDRANT_TEST_SECRET", "s3cret")
	tests := []struct {
		name    string
		expr    string
		data    string
		want    string
		wantErr string
	}{
		{name: "string field", expr: ".customer_id", data: `{"customer_id":"c-42"}`, want: "c-42"},
		{name: "nested", expr: ".event.type", data: `{"event":{"type":"click"}}`, want: "click"},
		{name: "integer", expr: ".n", data: `{"n":42}`, want: "42"},
		{name: "integer with fraction zero", expr: ".n", data: `{"n":42.0}`, want: "42"},
		{name: "negative", expr: ".n", data: `{"n":-7}`, want: "-7"},
		{name: "big integer exact", expr: ".n", data: `{"n":12345678901234567890}`, want: "12345678901234567890"},
		{name: "float", expr: ".n", data: `{"n":1.50}`, want: "1.5"},
		{name: "exponent", expr: ".n", data: `{"n":1e3}`, want: "1000"},
		{name: "huge float", expr: ".n", data: `{"n":1e300}`, want: "1e+300"},
		{name: "arithmetic", expr: ".n + 1", data: `{"n":41}`, want: "42"},
		{name: "float arithmetic", expr: ".n / 2", data: `{"n":5}`, want: "2.5"},
		{name: "bool", expr: ".ok", data: `{"ok":true}`, want: "true"},
		{name: "strftime", expr: `.ts | strftime("%Y/%m")`, data: `{"ts":1700000000}`, want: "2023/11"},
		{name: "string ops", expr: `.s | ascii_downcase`, data: `{"s":"ABC"}`, want: "abc"},
		{name: "env is empty", expr: `$ENV.HYDRANT_TEST_SECRET // "none"`, data: `{}`, want: "none"},
		{name: "top-level scalar input", expr: ".", data: `"x"`, want: "x"},
		{name: "surrounding whitespace", expr: ".a", data: " {\"a\":1}\n", want: "1"},
		{name: "missing", expr: ".nope", data: `{"a":1}`, wantErr: "null"},
		{name: "null", expr: ".a", data: `{"a":null}`, wantErr: "null"},
		{name: "object", expr: ".a", data: `{"a":{"b":1}}`, wantErr: "object"},
		{name: "array", expr: ".a", data: `{"a":[1]}`, wantErr: "array"},
		{name: "multiple", expr: ".a[]", data: `{"a":[1,2]}`, wantErr: "more than one"},
		{name: "none", expr: "empty", data: `{}`, wantErr: "no value"},
		{name: "jq error", expr: ".a.b", data: `{"a":"str"}`, wantErr: "query failed"},
		{name: "error builtin", expr: `error("boom")`, data: `{}`, wantErr: "boom"},
		{name: "halt", expr: `halt`, data: `{}`, wantErr: "key \"k\""},
		{name: "infinite", expr: `infinite`, data: `{}`, wantErr: "non-finite"},
		{name: "nan", expr: `nan`, data: `{}`, wantErr: "non-finite"},
		{name: "not json", expr: ".a", data: `not json`, wantErr: "not JSON"},
		{name: "empty data", expr: ".a", data: ``, wantErr: "empty data"},
		{name: "two documents", expr: ".a", data: `{"a":1}{"a":2}`, wantErr: "after the first JSON value"},
		{name: "truncated", expr: ".a", data: `{"a":`, wantErr: "not JSON"},
		{name: "endless stream stops after two", expr: `range(1e18)`, data: `{}`, wantErr: "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewJQMetadata(map[string]string{"k": tt.expr, "fixed": `"v"`})
			require.NoError(t, err)
			in := mkRecords([]byte(tt.data), []byte(`{"other":1}`))
			res, err := p.Process(t.Context(), in)
			require.NoError(t, err)
			requireAligned(t, in, res)
			require.Equal(t, map[string]string{"in": "x"}, in[0].Meta, "input Meta untouched")
			if tt.wantErr != "" {
				require.Equal(t, transform.Failed, res[0].Status)
				require.ErrorIs(t, res[0].Err, ErrPartitionKeyFailed)
				require.ErrorContains(t, res[0].Err, tt.wantErr)
				return
			}
			require.Equal(t, transform.Ok, res[0].Status)
			require.Len(t, res[0].Out, 1)
			o := res[0].Out[0]
			require.Equal(t, tt.data, string(o.Data), "data unchanged")
			require.Equal(t, map[string]string{"in": "x", record.QueryKey("k"): tt.want, record.QueryKey("fixed"): "v"}, o.Meta)
		})
	}
}

func TestNewJQMetadataErrors(t *testing.T) {
	many := map[string]string{}
	for i := range MaxMetadataKeys + 1 {
		many[strings.Repeat("k", i+1)] = "."
	}
	for name, keys := range map[string]map[string]string{
		"none":         nil,
		"empty name":   {"": ".a"},
		"syntax":       {"k": ".a |"},
		"unknown func": {"k": "nosuchfunc"},
		"input":        {"k": "input"},
		"too many":     many,
	} {
		_, err := NewJQMetadata(keys)
		require.Error(t, err, name)
	}
}

func TestJQMetadataMultipleKeysAndCancel(t *testing.T) {
	p, err := NewJQMetadata(map[string]string{"b": ".b", "a": ".a"})
	require.NoError(t, err)
	in := mkRecords([]byte(`{"a":"x"}`))
	res, err := p.Process(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, transform.Failed, res[0].Status)
	require.ErrorContains(t, res[0].Err, `key "b"`, "the failing key is named")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = p.Process(ctx, in)
	require.ErrorIs(t, err, context.Canceled)
}

func TestParseMetadataQuery(t *testing.T) {
	tests := []struct {
		query   string
		want    map[string]string
		wantErr bool
	}{
		{query: `{customer_id:.customer_id,device:.type.device,year:.event_timestamp|strftime("%Y")}`,
			want: map[string]string{"customer_id": ".customer_id", "device": ".type.device", "year": `.event_timestamp | strftime("%Y")`}},
		{query: `{"customer_id": .id}`, want: map[string]string{"customer_id": ".id"}},
		{query: `{customer_id}`, want: map[string]string{"customer_id": `."customer_id"`}},
		{query: `{a: (.x, .y)}`, want: map[string]string{"a": "(.x, .y)"}},
		{query: `.a`, wantErr: true},
		{query: `{a: .a} | .a`, wantErr: true},
		{query: `{(.k): .v}`, wantErr: true},
		{query: `{"\(.k)": .v}`, wantErr: true},
		{query: `{$x}`, wantErr: true},
		{query: `{a: .a, a: .b}`, wantErr: true},
		{query: `{a: `, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := ParseMetadataQuery(tt.query)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			_, err = NewJQMetadata(got)
			require.NoError(t, err, "the expressions recompile")
		})
	}

	// The round trip evaluates like the original query would.
	keys, err := ParseMetadataQuery(`{customer_id}`)
	require.NoError(t, err)
	p, err := NewJQMetadata(keys)
	require.NoError(t, err)
	res, err := p.Process(t.Context(), mkRecords([]byte(`{"customer_id":7}`)))
	require.NoError(t, err)
	require.Equal(t, "7", res[0].Out[0].Meta[record.QueryKey("customer_id")])
}

// FuzzJQMetadata_PlainPathMatchesGojq checks the scanning fast path for
// plain field paths against gojq itself on the same expression.
func FuzzJQMetadata_PlainPathMatchesGojq(f *testing.F) {
	for _, s := range []string{`{"a":{"b":"x"}}`, `{"a":{"b":1.50}}`, `{"a":{"b":12345678901234567890}}`, `{"a":[1]}`,
		`{"a":{"b":null}}`, `{"a":{"b":true}}`, `[1,2]`, `"s"`, `{"a":1}`, `not json`, `{"a":{"b":"\u00e9\n"}}`, `{"a":{"b":{}}}`, `{"a":{"b":-0.0}}`, `{"a":{"b":1e400}}`} {
		f.Add([]byte(s))
	}
	fast, err := NewJQMetadata(map[string]string{"k": ".a.b"})
	require.NoError(f, err)
	require.True(f, fast.plain())
	slow, err := NewJQMetadata(map[string]string{"k": ".a.b | ."}) // the same query, not plain: gojq
	require.NoError(f, err)
	require.False(f, slow.plain())
	f.Fuzz(func(t *testing.T, data []byte) {
		in := []record.Record{{Data: data}}
		a, err := fast.Process(t.Context(), in)
		require.NoError(t, err)
		b, err := slow.Process(t.Context(), in)
		require.NoError(t, err)
		require.Equal(t, b[0].Status, a[0].Status, "status for %q", data)
		if a[0].Status == transform.Ok {
			require.Equal(t, b[0].Out[0].Meta, a[0].Out[0].Meta, "value for %q", data)
		}
	})
}

func TestJQMetadata_DeepNestingFailsWithoutExhaustingTheStack(t *testing.T) {
	p, err := NewJQMetadata(map[string]string{"k": ".a"})
	require.NoError(t, err)
	deep := []byte(strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000))
	res, err := p.Process(t.Context(), []record.Record{{Data: deep}, {Data: []byte(`{"a":"x"}`)}})
	require.NoError(t, err)
	require.Equal(t, transform.Failed, res[0].Status)
	require.ErrorIs(t, res[0].Err, ErrPartitionKeyFailed)
	require.Equal(t, transform.Ok, res[1].Status)
}
