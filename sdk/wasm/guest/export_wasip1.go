//go:build wasip1

package guest

import "unsafe"

// The two buffers a module keeps between host calls: the input the host
// writes into (reused while it is big enough) and the output frame, which
// must stay alive until the host has read it, i.e. until the next call.
var (
	inBuf  []byte
	outBuf []byte
)

//go:wasmexport hydrant_abi_version
func abiVersion() uint32 { return ABIVersion }

// alloc returns a buffer of at least size bytes for the host to write the
// next input frame into. Go's collector does not move objects, so the
// address stays valid while inBuf holds it.
//
//go:wasmexport hydrant_alloc
func alloc(size uint32) uint32 {
	if uint32(cap(inBuf)) < size || cap(inBuf) == 0 {
		inBuf = make([]byte, max(size, 64))
	}
	inBuf = inBuf[:size]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf))))
}

// process runs the Handler over the frame at ptr and returns the output
// frame's address and length packed as ptr<<32 | len.
//
//go:wasmexport hydrant_process
func process(ptr, size uint32) uint64 {
	var in []byte
	if size <= uint32(cap(inBuf)) && ptr == uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf)))) {
		in = inBuf[:size]
	}
	if in == nil && size != 0 {
		outBuf = appendBatchError(outBuf, "hydrant_process: frame is not the buffer hydrant_alloc returned")
	} else {
		outBuf = run(handler, in, outBuf)
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(outBuf))))
	return uint64(p)<<32 | uint64(len(outBuf))
}
