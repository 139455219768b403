// Command enrich is an example Hydrant wasm processor that sets partition
// keys for dynamic partitioning, the way a Firehose Lambda returns
// metadata.partitionKeys: customer_id and event_type from the JSON record,
// and date and hour from its arrival time. A destination can then write to
// prefix "events/customer=!{partitionKeyFromLambda:customer_id}/dt=!{partitionKeyFromLambda:date}/".
// The data itself is not changed (and so not copied back to the host).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o enrich.wasm .
package main

import (
	"encoding/json"
	"strings"

	"github.com/hydrant-io/hydrant/sdk/wasm/guest"
)

func init() { guest.Handle(enrich) }

func main() {}

// event is the part of a record enrich reads.
type event struct {
	CustomerID any    `json:"customer_id"` // string or json.Number
	Type       string `json:"type"`
}

func enrich(r *guest.Record) guest.Result {
	var e event
	dec := json.NewDecoder(strings.NewReader(string(r.Data)))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		return guest.Failf("not a JSON event: %v", err)
	}
	var customer string
	switch id := e.CustomerID.(type) {
	case string:
		customer = id
	case json.Number:
		customer = id.String()
	}
	if customer == "" {
		return guest.Fail("no customer_id (a string or a number)")
	}
	typ := e.Type
	if typ == "" {
		typ = "unknown"
	}
	at := r.Arrived()
	return guest.Keep().
		With("customer_id", customer).
		With("event_type", typ).
		With("date", at.Format("2006-01-02")).
		With("hour", at.Format("15"))
}
