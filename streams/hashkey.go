package streams

import (
	"crypto/md5"
	"fmt"
	"math/big"
)

// hashKey is an unsigned 128-bit Kinesis hash key held as two words so that
// routing compares integers instead of allocating big.Ints per record.
type hashKey struct{ hi, lo uint64 }

// maxHashKey is 2^128 − 1, the end of the last shard's range.
var maxHashKey = hashKey{^uint64(0), ^uint64(0)}

func (k hashKey) cmp(o hashKey) int {
	switch {
	case k.hi < o.hi:
		return -1
	case k.hi > o.hi:
		return 1
	case k.lo < o.lo:
		return -1
	case k.lo > o.lo:
		return 1
	}
	return 0
}

// add1 returns k+1 (wrapping at 2^128, which callers never reach).
func (k hashKey) add1() hashKey {
	k.lo++
	if k.lo == 0 {
		k.hi++
	}
	return k
}

// sub1 returns k−1 (wrapping at 0, which callers never reach).
func (k hashKey) sub1() hashKey {
	if k.lo == 0 {
		k.hi--
	}
	k.lo--
	return k
}

func (k hashKey) big() *big.Int {
	b := new(big.Int).SetUint64(k.hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(k.lo))
}

// String formats the key in decimal, as Kinesis does.
func (k hashKey) String() string { return k.big().String() }

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

// hashKeyFromBig converts b, which must lie in [0, 2^128).
func hashKeyFromBig(b *big.Int) (hashKey, error) {
	if b == nil || b.Sign() < 0 || b.Cmp(two128) >= 0 {
		return hashKey{}, fmt.Errorf("hash key %v out of range [0, 2^128)", b)
	}
	var buf [16]byte
	b.FillBytes(buf[:])
	return hashKeyFromBytes(buf), nil
}

// parseHashKey parses a decimal hash key.
func parseHashKey(s string) (hashKey, error) {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return hashKey{}, fmt.Errorf("invalid hash key %q", s)
	}
	return hashKeyFromBig(b)
}

func hashKeyFromBytes(b [16]byte) hashKey {
	return hashKey{
		hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]),
		lo: uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
			uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15]),
	}
}

// keyHash is the Kinesis partition-key hash: MD5 read as a big-endian
// unsigned 128-bit integer.
func keyHash(key string) hashKey {
	// Copying into a stack buffer keeps short keys allocation-free; Kinesis
	// keys are at most 256 bytes.
	var buf [256]byte
	var sum [16]byte
	if len(key) <= len(buf) {
		sum = md5.Sum(append(buf[:0], key...))
	} else {
		sum = md5.Sum([]byte(key))
	}
	return hashKeyFromBytes(sum)
}

// initialRanges returns Kinesis' initial hash ranges for n shards:
// step = floor(2^128 / n); shard i covers [i·step, (i+1)·step − 1] and the
// last shard ends at 2^128 − 1.
func initialRanges(n int) [][2]hashKey {
	step := new(big.Int).Div(two128, big.NewInt(int64(n)))
	out := make([][2]hashKey, n)
	for i := range n {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		s, _ := hashKeyFromBig(start)
		e := maxHashKey
		if i < n-1 {
			end := new(big.Int).Add(start, step)
			end.Sub(end, big.NewInt(1))
			e, _ = hashKeyFromBig(end)
		}
		out[i] = [2]hashKey{s, e}
	}
	return out
}
