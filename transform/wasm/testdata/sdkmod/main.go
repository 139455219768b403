// Command sdkmod is the test module built with the guest SDK. What it does
// with a record is chosen by the record's partition key, so that one module
// (compiled once per test run) covers every verdict.
package main

import (
	"bytes"
	"strconv"

	"github.com/hydrant-io/hydrant/sdk/wasm/guest"
)

func init() { guest.Handle(handle) }

func main() {}

func handle(r *guest.Record) guest.Result {
	switch string(r.PartitionKey) {
	case "keep":
		return guest.Keep()
	case "upper":
		return guest.Ok(bytes.ToUpper(r.Data))
	case "inplace": // modify the host's copy in place: no allocation
		for i, c := range r.Data {
			if c >= 'a' && c <= 'z' {
				r.Data[i] = c - 'a' + 'A'
			}
		}
		return guest.Ok(r.Data)
	case "drop":
		return guest.Drop()
	case "fail":
		return guest.Fail("rejected: " + string(r.Data))
	case "keys":
		return guest.Keep().
			With("shard", string(r.Shard)).
			With("seq", strconv.FormatUint(r.Sequence, 10)).
			With("day", r.Arrived().Format("2006-01-02")).
			With("id", string(r.ID))
	case "panic":
		panic("handler panic on " + string(r.Data))
	default: // echo: Ok with the same bytes, copied back to the host
		return guest.Ok(r.Data)
	}
}
