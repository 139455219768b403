package orc

import (
	"encoding/binary"
	"math/big"
)

// The run-length encodings of ORC's v1 (DIRECT) column encoding: byte RLE
// (PRESENT and boolean streams) and integer RLE v1. Both write into a
// growing byte slice; runs of at least minRepeat equal values (or, for
// integers, values with a constant small delta) become one run header.

const (
	minRepeat  = 3
	maxLiteral = 128
	maxRepeat  = 127 + minRepeat
	minDelta   = -128
	maxDelta   = 127
)

// byteRLE encodes bytes with ORC's byte run-length encoding.
type byteRLE struct {
	out     []byte
	lits    [maxLiteral]byte
	n       int  // pending values in lits
	repeat  bool // lits[0] repeated n times
	tailRun int  // equal values at the end of lits
}

func (e *byteRLE) write(b byte) {
	switch {
	case e.n == 0:
		e.lits[0], e.n, e.tailRun = b, 1, 1
	case e.repeat:
		if b == e.lits[0] {
			e.n++
			if e.n == maxRepeat {
				e.flush()
			}
			return
		}
		e.flush()
		e.lits[0], e.n, e.tailRun = b, 1, 1
	default:
		if b == e.lits[e.n-1] {
			e.tailRun++
		} else {
			e.tailRun = 1
		}
		if e.tailRun == minRepeat {
			if e.n+1 == minRepeat {
				e.repeat = true
				e.n++
				return
			}
			e.n -= minRepeat - 1
			e.flush()
			e.lits[0], e.repeat, e.n = b, true, minRepeat
			return
		}
		e.lits[e.n] = b
		e.n++
		if e.n == maxLiteral {
			e.flush()
		}
	}
}

// flush writes the pending run or literals.
func (e *byteRLE) flush() {
	if e.n == 0 {
		return
	}
	if e.repeat {
		e.out = append(e.out, byte(e.n-minRepeat), e.lits[0])
	} else {
		e.out = append(e.out, byte(-e.n))
		e.out = append(e.out, e.lits[:e.n]...)
	}
	e.repeat, e.n, e.tailRun = false, 0, 0
}

// bytes finishes the stream and returns it.
func (e *byteRLE) bytes() []byte {
	e.flush()
	return e.out
}

func (e *byteRLE) reset() {
	*e = byteRLE{out: e.out[:0]}
}

// boolRLE packs booleans eight to a byte, most significant bit first, and
// byte-RLE encodes the bytes.
type boolRLE struct {
	rle  byteRLE
	cur  byte
	bits int
}

func (e *boolRLE) write(v bool) {
	e.cur <<= 1
	if v {
		e.cur |= 1
	}
	e.bits++
	if e.bits == 8 {
		e.rle.write(e.cur)
		e.cur, e.bits = 0, 0
	}
}

func (e *boolRLE) bytes() []byte {
	if e.bits > 0 {
		e.rle.write(e.cur << (8 - e.bits))
		e.cur, e.bits = 0, 0
	}
	return e.rle.bytes()
}

func (e *boolRLE) reset() {
	e.rle.reset()
	e.cur, e.bits = 0, 0
}

// intRLE encodes integers with ORC's integer RLE v1, signed values
// zigzag-encoded.
type intRLE struct {
	signed  bool
	out     []byte
	lits    [maxLiteral]int64
	n       int
	repeat  bool
	delta   int64
	tailRun int
}

// smallDelta returns a-b and whether it fits a run's delta byte.
func smallDelta(a, b int64) (int64, bool) {
	d := a - b
	if (a >= b) != (d >= 0) { // overflowed
		return 0, false
	}
	return d, d >= minDelta && d <= maxDelta
}

func (e *intRLE) write(v int64) {
	switch {
	case e.n == 0:
		e.lits[0], e.n, e.tailRun = v, 1, 1
	case e.repeat:
		last := e.lits[0] + e.delta*int64(e.n-1)
		if d, ok := smallDelta(v, last); ok && d == e.delta {
			e.n++
			if e.n == maxRepeat {
				e.flush()
			}
			return
		}
		e.flush()
		e.lits[0], e.n, e.tailRun = v, 1, 1
	default:
		prev := e.lits[e.n-1]
		d, ok := smallDelta(v, prev)
		switch {
		case !ok:
			e.tailRun = 1
		case e.tailRun >= 2 && d == e.delta:
			e.tailRun++
		default:
			e.delta, e.tailRun = d, 2
		}
		if e.tailRun == minRepeat {
			if e.n+1 == minRepeat {
				e.repeat = true
				e.n++
				return
			}
			e.n -= minRepeat - 1
			base, delta := e.lits[e.n], e.delta
			e.flush() // the literals before the run; resets delta
			e.lits[0], e.repeat, e.n, e.delta = base, true, minRepeat, delta
			return
		}
		e.lits[e.n] = v
		e.n++
		if e.n == maxLiteral {
			e.flush()
		}
	}
}

func (e *intRLE) flush() {
	if e.n == 0 {
		return
	}
	if e.repeat {
		e.out = append(e.out, byte(e.n-minRepeat), byte(int8(e.delta)))
		e.out = e.varint(e.out, e.lits[0])
	} else {
		e.out = append(e.out, byte(-e.n))
		for _, v := range e.lits[:e.n] {
			e.out = e.varint(e.out, v)
		}
	}
	e.repeat, e.n, e.tailRun, e.delta = false, 0, 0, 0
}

func (e *intRLE) varint(b []byte, v int64) []byte {
	if e.signed {
		return binary.AppendUvarint(b, uint64(v<<1)^uint64(v>>63))
	}
	return binary.AppendUvarint(b, uint64(v))
}

func (e *intRLE) bytes() []byte {
	e.flush()
	return e.out
}

func (e *intRLE) reset() {
	*e = intRLE{signed: e.signed, out: e.out[:0]}
}

// appendBigVarint appends v zigzag-encoded as an unbounded base-128
// varint (ORC's decimal DATA stream).
func appendBigVarint(b []byte, v *big.Int) []byte {
	if v.IsInt64() {
		n := v.Int64()
		if n >= -(1<<62) && n < 1<<62 {
			return binary.AppendUvarint(b, uint64(n<<1)^uint64(n>>63))
		}
	}
	z := new(big.Int).Lsh(v, 1) // 2v, or -2v-1 for negative v
	if v.Sign() < 0 {
		z.Neg(z)
		z.Sub(z, big.NewInt(1))
	}
	mask := big.NewInt(0x7f)
	var low big.Int
	for {
		low.And(z, mask)
		z.Rsh(z, 7)
		if z.Sign() == 0 {
			return append(b, byte(low.Uint64()))
		}
		b = append(b, byte(low.Uint64())|0x80)
	}
}
