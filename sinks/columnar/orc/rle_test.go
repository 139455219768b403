package orc

import (
	"encoding/binary"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeByteRLE and decodeIntRLE follow the ORC specification, to check
// the encoders independently of them.
func decodeByteRLE(t testing.TB, b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		h := int8(b[0])
		if h >= 0 {
			require.GreaterOrEqual(t, len(b), 2)
			for range int(h) + minRepeat {
				out = append(out, b[1])
			}
			b = b[2:]
			continue
		}
		n := -int(h)
		require.GreaterOrEqual(t, len(b), 1+n)
		out = append(out, b[1:1+n]...)
		b = b[1+n:]
	}
	return out
}

func decodeIntRLE(t testing.TB, b []byte, signed bool) []int64 {
	var out []int64
	read := func() int64 {
		u, n := binary.Uvarint(b)
		require.Positive(t, n)
		b = b[n:]
		if signed {
			return int64(u>>1) ^ -int64(u&1)
		}
		return int64(u)
	}
	for len(b) > 0 {
		h := int8(b[0])
		if h >= 0 {
			delta := int64(int8(b[1]))
			b = b[2:]
			base := read()
			for i := range int64(h) + minRepeat {
				out = append(out, base+i*delta)
			}
			continue
		}
		b = b[1:]
		for range -int(h) {
			out = append(out, read())
		}
	}
	return out
}

func TestByteRLE_SpecExamples(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"100 zeros", make([]byte, 100), []byte{0x61, 0x00}},
		{"two literals", []byte{0x44, 0x45}, []byte{0xfe, 0x44, 0x45}},
		{"literal then run", []byte{1, 2, 3, 3, 3}, []byte{0xfe, 1, 2, 0x00, 3}},
		{"longest run then one", append(make([]byte, 130), 9), []byte{127, 0, 0xff, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e byteRLE
			for _, b := range tc.in {
				e.write(b)
			}
			got := e.bytes()
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.in, decodeByteRLE(t, got))
		})
	}
}

func TestIntRLE_SpecExamples(t *testing.T) {
	hundredSevens := make([]int64, 100)
	for i := range hundredSevens {
		hundredSevens[i] = 7
	}
	tests := []struct {
		name   string
		signed bool
		in     []int64
		want   []byte
	}{
		{"100 sevens", false, hundredSevens, []byte{0x61, 0x00, 0x07}},
		{"literals", false, []int64{2, 3, 6, 7, 11}, []byte{0xfb, 0x02, 0x03, 0x06, 0x07, 0x0b}},
		{"descending run", true, []int64{10, 9, 8, 7}, []byte{0x01, 0xff, 20}},
		{"overflowing delta is a literal", true, []int64{math.MaxInt64, math.MinInt64, math.MaxInt64}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := intRLE{signed: tc.signed}
			for _, v := range tc.in {
				e.write(v)
			}
			got := e.bytes()
			if tc.want != nil {
				require.Equal(t, tc.want, got)
			}
			require.Equal(t, tc.in, decodeIntRLE(t, got, tc.signed))
		})
	}
}

func FuzzByteRLE(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 300))
	f.Add([]byte{1, 1, 2, 2, 2, 3, 3, 3, 3, 4})
	f.Fuzz(func(t *testing.T, in []byte) {
		var e byteRLE
		for _, b := range in {
			e.write(b)
		}
		got := decodeByteRLE(t, e.bytes())
		if len(in) == 0 {
			require.Empty(t, got)
			return
		}
		require.Equal(t, in, got)
	})
}

// FuzzIntRLE reads the fuzz input as small deltas, so runs appear often.
func FuzzIntRLE(f *testing.F) {
	f.Add([]byte{}, true, int64(0))
	f.Add([]byte{1, 1, 1, 1, 0, 0, 0, 200, 200}, false, int64(5))
	f.Add([]byte{255, 255, 255, 3}, true, int64(math.MaxInt64-2))
	f.Fuzz(func(t *testing.T, deltas []byte, signed bool, start int64) {
		if !signed && start < 0 {
			start = -start
		}
		var in []int64
		v := start
		for _, d := range deltas {
			v += int64(int8(d))
			if !signed && v < 0 {
				v = 0
			}
			in = append(in, v)
		}
		e := intRLE{signed: signed}
		for _, x := range in {
			e.write(x)
		}
		require.Equal(t, in, decodeIntRLE(t, e.bytes(), signed))
	})
}

func TestBoolRLE(t *testing.T) {
	var e boolRLE
	in := []bool{true, false, true, true, false, false, false, false, true, true}
	for _, v := range in {
		e.write(v)
	}
	require.Equal(t, []byte{0b10110000, 0b11000000}, decodeByteRLE(t, e.bytes()))
}

func TestEncodeNanos(t *testing.T) {
	tests := []struct{ in, want int64 }{
		{0, 0},
		{1, 1 << 3},
		{123456789, 123456789 << 3},
		{100, 1<<3 | 1},
		{1000, 1<<3 | 2},
		{500_000_000, 5<<3 | 7},
		{123_456_000, 123456<<3 | 2},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, encodeNanos(tc.in), "nanos %d", tc.in)
	}
}

func TestSplitMicros(t *testing.T) {
	tests := []struct{ us, secs, nanos int64 }{
		{0, 0, 0},
		{1_500_000, 1, 500_000_000},
		{-1_500_000, -1, 500_000_000}, // floor -2, written -1: readers subtract one
		{-2_000_001, -2, 999_999_000}, // floor -3
		{-1_999_999, -2, 1000},        // nanos <= 999,999: no reader adjustment
	}
	for _, tc := range tests {
		secs, nanos := splitMicros(tc.us)
		require.Equal(t, tc.secs, secs, "µs %d", tc.us)
		require.Equal(t, tc.nanos, nanos, "µs %d", tc.us)
	}
}

func TestAppendBigVarint(t *testing.T) {
	huge, _ := new(big.Int).SetString("-99999999999999999999999999999999999999", 10)
	for _, v := range []*big.Int{big.NewInt(0), big.NewInt(-1), big.NewInt(1 << 62), big.NewInt(-(1 << 62) - 5), huge} {
		b := appendBigVarint(nil, v)
		// decode: little-endian base 128, then zigzag
		z := new(big.Int)
		for i := len(b) - 1; i >= 0; i-- {
			z.Lsh(z, 7)
			z.Or(z, big.NewInt(int64(b[i]&0x7f)))
		}
		neg := z.Bit(0) == 1
		z.Rsh(z, 1)
		if neg {
			z.Add(z, big.NewInt(1)).Neg(z)
		}
		require.Zero(t, v.Cmp(z), "%v decoded as %v", v, z)
	}
}
