package iceberg

import (
	"fmt"
	"testing"
)

func FuzzParsePartitionField(f *testing.F) {
	for _, s := range []string{
		"user", "day(ts)", " hour( ts ) ", "bucket(16, user)", "truncate(4,name)",
		"identity(x)", "bucket(0, x)", "day(3, ts)", "day(month(ts))", "", "week(ts)",
		"bucket(1048576, é)", "truncate(007, a.b)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pf, err := ParsePartitionField(s)
		if err != nil {
			return
		}
		if pf.Column == "" {
			t.Fatalf("%q: accepted with no column: %+v", s, pf)
		}
		var again string
		switch pf.Transform {
		case "identity":
			if pf.N != 0 {
				t.Fatalf("%q: identity with N: %+v", s, pf)
			}
			again = pf.Column
		case "year", "month", "day", "hour":
			if pf.N != 0 {
				t.Fatalf("%q: %s with N: %+v", s, pf.Transform, pf)
			}
			again = fmt.Sprintf("%s(%s)", pf.Transform, pf.Column)
		case "bucket", "truncate":
			if pf.N < 1 || pf.N > 1<<20 {
				t.Fatalf("%q: N out of range: %+v", s, pf)
			}
			again = fmt.Sprintf("%s(%d, %s)", pf.Transform, pf.N, pf.Column)
		default:
			t.Fatalf("%q: unknown transform accepted: %+v", s, pf)
		}
		pf2, err := ParsePartitionField(again)
		if err != nil {
			t.Fatalf("%q parsed to %+v, but its spelling %q is refused: %v", s, pf, again, err)
		}
		if pf2 != pf {
			t.Fatalf("%q parsed to %+v, but its spelling %q to %+v", s, pf, again, pf2)
		}
		_ = pf.name()
		_ = pf.transform()
	})
}

func FuzzParsePos(f *testing.F) {
	for _, s := range []string{"1.0", "0.0", "12.3", "007.08", "18446744073709551615.4294967295", "1", "x.1", "1.x", "1.4294967296", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := parsePos(s)
		if !ok {
			return
		}
		text := formatPos(p)
		p2, ok := parsePos(text)
		if !ok || p2 != p {
			t.Fatalf("%q parsed to %+v; formatPos gave %q, which parsed to %+v, %v", s, p, text, p2, ok)
		}
	})
}
