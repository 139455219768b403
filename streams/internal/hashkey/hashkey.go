// Package hashkey is Kinesis' partition-key routing: a key's MD5, read as
// an unsigned 128-bit integer, falls into the hash-key range of exactly
// one open shard. Every stream backend routes with it, so a record lands
// on the same shard whichever backend stores it.
package hashkey

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
)

// Key is an unsigned 128-bit Kinesis hash key held as two words so that
// routing compares integers instead of allocating big.Ints per record.
type Key struct{ Hi, Lo uint64 }

// Max is 2^128 − 1, the end of the last shard's range.
var Max = Key{^uint64(0), ^uint64(0)}

// Cmp compares k and o like cmp.Compare.
func (k Key) Cmp(o Key) int {
	switch {
	case k.Hi < o.Hi:
		return -1
	case k.Hi > o.Hi:
		return 1
	case k.Lo < o.Lo:
		return -1
	case k.Lo > o.Lo:
		return 1
	}
	return 0
}

// Add1 returns k+1 (wrapping at 2^128, which callers never reach).
func (k Key) Add1() Key {
	k.Lo++
	if k.Lo == 0 {
		k.Hi++
	}
	return k
}

// Sub1 returns k−1 (wrapping at 0, which callers never reach).
func (k Key) Sub1() Key {
	if k.Lo == 0 {
		k.Hi--
	}
	k.Lo--
	return k
}

// Big returns k as a big.Int.
func (k Key) Big() *big.Int {
	b := new(big.Int).SetUint64(k.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(k.Lo))
}

// String formats the key in decimal, as Kinesis does.
func (k Key) String() string { return k.Big().String() }

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

// FromBig converts b, which must lie in [0, 2^128).
func FromBig(b *big.Int) (Key, error) {
	if b == nil || b.Sign() < 0 || b.Cmp(two128) >= 0 {
		return Key{}, fmt.Errorf("hash key %v out of range [0, 2^128)", b)
	}
	var buf [16]byte
	b.FillBytes(buf[:])
	return fromBytes(buf), nil
}

// Parse parses a decimal hash key.
func Parse(s string) (Key, error) {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return Key{}, fmt.Errorf("invalid hash key %q", s)
	}
	return FromBig(b)
}

func fromBytes(b [16]byte) Key {
	return Key{
		Hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]),
		Lo: uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
			uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15]),
	}
}

// Of is the Kinesis partition-key hash: MD5 read as a big-endian
// unsigned 128-bit integer.
func Of(key string) Key {
	// Copying into a stack buffer keeps short keys allocation-free; Kinesis
	// keys are at most 256 bytes.
	var buf [256]byte
	var sum [16]byte
	if len(key) <= len(buf) {
		sum = md5.Sum(append(buf[:0], key...))
	} else {
		sum = md5.Sum([]byte(key))
	}
	return fromBytes(sum)
}

// InitialRanges returns Kinesis' initial hash ranges for n shards:
// step = floor(2^128 / n); shard i covers [i·step, (i+1)·step − 1] and the
// last shard ends at 2^128 − 1.
func InitialRanges(n int) [][2]Key {
	step := new(big.Int).Div(two128, big.NewInt(int64(n)))
	out := make([][2]Key, n)
	for i := range n {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		s, _ := FromBig(start)
		e := Max
		if i < n-1 {
			end := new(big.Int).Add(start, step)
			end.Sub(end, big.NewInt(1))
			e, _ = FromBig(end)
		}
		out[i] = [2]Key{s, e}
	}
	return out
}

// Route returns the index of the range that holds key's hash, given the
// ordered first keys of contiguous ranges (starts[0] == 0). An empty key
// (Firehose direct-put records have none) picks a range at random.
func Route(starts []Key, key string) int {
	if len(starts) == 1 {
		return 0
	}
	if key == "" {
		return rand.IntN(len(starts))
	}
	h := Of(key)
	return sort.Search(len(starts), func(i int) bool { return starts[i].Cmp(h) > 0 }) - 1
}
