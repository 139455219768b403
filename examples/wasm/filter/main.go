// Command filter is an example Hydrant wasm processor that drops records:
// empty ones, heartbeats ({"type":"heartbeat"}) and debug logs
// ({"level":"debug"}). Everything else continues unchanged; a record that
// is not JSON is kept, since filtering is not validation.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o filter.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/hydrant-io/hydrant/sdk/wasm/guest"
)

func init() { guest.Handle(filter) }

func main() {}

// fields are the parts of a record filter looks at.
type fields struct {
	Type  string `json:"type"`
	Level string `json:"level"`
}

func filter(r *guest.Record) guest.Result {
	if len(bytes.TrimSpace(r.Data)) == 0 {
		return guest.Drop()
	}
	var f fields
	if json.Unmarshal(r.Data, &f) != nil {
		return guest.Keep()
	}
	if f.Type == "heartbeat" || strings.EqualFold(f.Level, "debug") {
		return guest.Drop()
	}
	return guest.Keep()
}
