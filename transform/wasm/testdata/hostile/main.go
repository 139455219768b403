// Command hostile implements the ABI by hand, without the SDK, and
// misbehaves in the way the first record's data names. It is the test of
// how the host survives a broken module, and of docs/wasm-abi.md being
// implementable from the text alone.
package main

import (
	"encoding/binary"
	"os"
	"unsafe"
)

func main() {}

var (
	in   []byte
	out  []byte
	sink [][]byte
	le   = binary.LittleEndian
)

//go:wasmexport hydrant_abi_version
func abiVersion() uint32 { return 1 }

//go:wasmexport hydrant_alloc
func alloc(size uint32) uint32 {
	in = make([]byte, max(size, 1))
	return addr(in)
}

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func pack(b []byte) uint64 { return uint64(addr(b))<<32 | uint64(len(b)) }

// ids reads the record ids and the first record's data from the input frame.
func ids(frame []byte) (ids [][]byte, first string) {
	n := le.Uint32(frame[8:])
	p := frame[12:]
	field := func() []byte {
		l := le.Uint32(p)
		v := p[4 : 4+l]
		p = p[4+l:]
		return v
	}
	for i := uint32(0); i < n; i++ {
		id := field()
		p = p[8:] // arrival
		field()   // partition key
		field()   // shard
		p = p[8:] // sequence
		data := field()
		if i == 0 {
			first = string(data)
		}
		ids = append(ids, id)
	}
	return ids, first
}

func str(b []byte, s []byte) []byte {
	b = le.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// results encodes an Unchanged verdict for each id.
func results(ids [][]byte) []byte {
	b := append([]byte("HYDO"), 1, 0, 0, 0)
	b = le.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = append(b, 3)
		b = str(b, id)
		b = le.AppendUint32(b, 0) // payload
		b = le.AppendUint32(b, 0) // keys
	}
	return b
}

//go:wasmexport hydrant_process
func process(ptr, size uint32) uint64 {
	all, first := ids(in[:size])
	switch first {
	case "loop":
		for {
		}
	case "alloc": // grow until the memory limit stops it
		for {
			sink = append(sink, make([]byte, 8<<20))
		}
	case "panic":
		panic("hostile module panics")
	case "exit":
		os.Exit(3)
	case "exit0":
		os.Exit(0)
	case "dup":
		out = results(append(all[:len(all)-1], all[0]))
	case "missing":
		out = results(all[:len(all)-1])
	case "unknown":
		out = results(append(all[:len(all)-1], []byte("no-such-id")))
	case "garbage":
		out = []byte("this is not a frame")
	case "truncated":
		out = results(all)
		out = out[:len(out)-3]
	case "trailing":
		out = append(results(all), 0)
	case "keys-on-drop":
		out = append([]byte("HYDO"), 1, 0, 0, 0)
		out = le.AppendUint32(out, uint32(len(all)))
		for _, id := range all {
			out = append(out, 1)
			out = str(out, id)
			out = le.AppendUint32(out, 0)
			out = le.AppendUint32(out, 1)
			out = str(out, []byte("k"))
			out = str(out, []byte("v"))
		}
	case "bad-status":
		out = results(all)
		out[12] = 9
	case "version":
		out = results(all)
		out[4] = 2
	case "oob":
		return 0xFFFF0000<<32 | 0x1000
	case "batch-error":
		out = str([]byte("HYDE\x01\x00\x00\x00"), []byte("upstream lookup table missing"))
	default:
		out = results(all)
	}
	return pack(out)
}
