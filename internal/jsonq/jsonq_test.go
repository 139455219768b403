package jsonq

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValid_BoundsDepth(t *testing.T) {
	require.True(t, Valid([]byte(`{"s":"[[[[\"]]]"}`)), "brackets inside strings do not count")
	require.False(t, Valid([]byte(strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1))))
	require.True(t, Valid([]byte(strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth))))
	require.False(t, Valid([]byte(`{"a":`)))
}

// Scan gives what Decode and First give, for plain paths.
func TestScan_MatchesDecodeAndRun(t *testing.T) {
	docs := []string{
		`{"a":{"b":"x"},"n":12345678901234567890,"f":1.50,"t":true,"z":null,"o":{"k":[1,2]}}`,
		"{\"bad\":\"\xff\"}",
		`{"a":1}`, `[1,2]`, `"s"`, `{"a":{"b":{"c":false}}}`,
	}
	for _, expr := range []string{".a", ".a.b", ".a.b.c", ".n", ".f", ".t", ".z", ".o", ".missing", ".bad"} {
		q, err := Compile(expr)
		require.NoError(t, err)
		require.True(t, q.Plain(), expr)
		for _, d := range docs {
			scanned, serr := q.Scan([]byte(d))
			doc, err := Decode([]byte(d))
			require.NoError(t, err)
			run, _, rerr := q.First(doc)
			if rerr != nil {
				// jq errors on .a of a non-object; the scan says null,
				// which callers treat as a missing value.
				require.Nil(t, scanned, "%s on %s", expr, d)
				continue
			}
			require.NoError(t, serr)
			require.Equal(t, run, scanned, "%s on %s", expr, d)
		}
	}
	q, err := Compile(".a | length")
	require.NoError(t, err)
	require.False(t, q.Plain())
}

func TestDecode_OneValueExactNumbers(t *testing.T) {
	v, err := Decode([]byte(`{"id":9007199254740993}`))
	require.NoError(t, err)
	require.Equal(t, json.Number("9007199254740993"), v.(map[string]any)["id"])
	_, err = Decode([]byte(`{} {}`))
	require.ErrorContains(t, err, "after the first JSON value")
	_, err = Decode(nil)
	require.ErrorContains(t, err, "empty")
}

// FuzzScan: on any valid document, a plain path scans to what decoding and
// running the expression give (or null where jq errors).
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a":{"b":1}}`, `{"a":"\u00e9"}`, `{"a":[1,{"b":2}]}`, `{"a":1,"a":2}`} {
		f.Add(s, ".a.b")
	}
	f.Fuzz(func(t *testing.T, doc, expr string) {
		q, err := Compile(expr)
		if err != nil || !q.Plain() || !Valid([]byte(doc)) || strings.Count(doc, `"`) > 40 {
			return
		}
		d, err := Decode([]byte(doc))
		if err != nil {
			return
		}
		if hasDuplicateKeys(doc) {
			return // the scan takes the first, jq the last
		}
		scanned, err := q.Scan([]byte(doc))
		require.NoError(t, err)
		run, _, rerr := q.First(d)
		if rerr != nil {
			require.Nil(t, scanned)
			return
		}
		require.Equal(t, run, scanned)
	})
}

// hasDuplicateKeys reports whether any object in doc repeats a key.
func hasDuplicateKeys(doc string) bool {
	dec := json.NewDecoder(strings.NewReader(doc))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				ks, _ := k.(string)
				if seen[ks] {
					return true
				}
				seen[ks] = true
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		}
		return false
	}
	return walk()
}
