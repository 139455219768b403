// Package guest is Hydrant's SDK for writing `wasm` processors in Go.
//
// A processor is a WASI preview-1 reactor module built with the standard
// toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o redact.wasm .
//
// Its main package registers one Handler in an init function (a reactor
// never runs main, so init is the only hook it has) and leaves main empty:
//
//	func init() { guest.Handle(transform) }
//	func main() {}
//
//	func transform(r *guest.Record) guest.Result {
//		if len(r.Data) == 0 {
//			return guest.Drop()
//		}
//		return guest.Keep().With("customer", "c-42")
//	}
//
// The SDK implements the ABI of docs/wasm-abi.md: it exports
// hydrant_abi_version, hydrant_alloc and hydrant_process, decodes the batch
// the host wrote into the module's memory, calls the Handler once per record
// and encodes the verdicts. A panic in the Handler fails only its record
// (ProcessingFailed with the panic message).
//
// The package also builds for other platforms (without the exports) so that
// a transform's Handler can be unit-tested with the ordinary `go test`.
package guest
