package encode

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// Test and benchmark inputs. Record shapes follow a click stream: repeated
// keys and user agents, numbers, a random session id and a free-text field
// drawn from a small vocabulary with some hex noise, padded to 1 KiB.

// words is a fixed vocabulary for the free-text field.
var words = func() []string {
	rng := rand.New(rand.NewPCG(3, 4))
	w := make([]string, 96)
	for i := range w {
		b := make([]byte, 3+rng.IntN(7))
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		w[i] = string(b)
	}
	return w
}()

const hexDigits = "0123456789abcdef"

// recordSize is the size of every record jsonLines makes, newline included.
const recordSize = 1024

// jsonLines returns at least n bytes of 1 KiB JSON lines, deterministic in seed.
func jsonLines(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.Grow(n + recordSize)
	for i := 0; b.Len() < n; i++ {
		start := b.Len()
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","page":"/products/%d/reviews","ts":"2026-01-15T10:%02d:%02d.%03dZ",`+
			`"ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36","session":"`,
			i, rng.IntN(5000), rng.IntN(800), i/60%60, i%60, rng.IntN(1000))
		for range 32 {
			b.WriteByte(hexDigits[rng.IntN(16)])
		}
		b.WriteString(`","text":"`)
		for b.Len()-start < recordSize-3 {
			if rng.IntN(12) == 0 {
				b.WriteByte(hexDigits[rng.IntN(16)])
			} else {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
		}
		b.Truncate(start + recordSize - 3)
		b.WriteString("\"}\n")
	}
	return b.Bytes()
}

// mixed returns n bytes alternating incompressible random runs with runs of
// JSON lines, so blocks see both worst and typical cases.
func mixed(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	text := jsonLines(n, seed)
	out := make([]byte, 0, n)
	for len(out) < n {
		run := min(1+rng.IntN(300<<10), n-len(out))
		if rng.IntN(2) == 0 {
			for range run {
				out = append(out, byte(rng.Uint32()))
			}
		} else {
			off := rng.IntN(len(text) - run + 1)
			out = append(out, text[off:off+run]...)
		}
	}
	return out
}
