package columnar

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestFastTime checks the hand-written timestamp and date parsers against
// time.Parse on random near-valid text: wherever they accept, time.Parse
// agrees, and they accept every plain date time.Parse accepts.
func TestFastTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		s := fmt.Sprintf("%04d-%02d-%02d%c%02d:%02d:%02d", rng.IntN(10000), rng.IntN(14), rng.IntN(33),
			" T"[rng.IntN(2)], rng.IntN(25), rng.IntN(61), rng.IntN(61))
		if rng.IntN(2) == 0 {
			s += "." + fmt.Sprintf("%09d", rng.IntN(1e9))[:1+rng.IntN(9)]
		}
		switch rng.IntN(4) {
		case 0:
			s += "Z"
		case 1:
			s += fmt.Sprintf("%c%02d:%02d", "+-"[rng.IntN(2)], rng.IntN(25), rng.IntN(61))
		}
		got, ok := fastTime(s)
		var want int64
		var wantOK bool
		for _, layout := range timeLayouts {
			if tt, err := time.Parse(layout, s); err == nil {
				want, wantOK = tt.UnixMicro(), true
				break
			}
		}
		if ok && (!wantOK || got != want) {
			t.Fatalf("fastTime(%q) = %d, time.Parse: %d (ok %v)", s, got, want, wantOK)
		}
		date := s[:10]
		days, ok := fastDate(date)
		tt, err := time.Parse("2006-01-02", date)
		if ok != (err == nil) || ok && days != tt.Unix()/86400 {
			t.Fatalf("fastDate(%q) = %d, %v; time.Parse: %v, %v", date, days, ok, tt, err)
		}
	}
}
