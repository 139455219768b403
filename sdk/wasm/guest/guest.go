package guest

import (
	"fmt"
	"time"
)

// Record is one input record. Its byte slices point into the batch buffer
// the host wrote: they are valid only until the Handler returns, so copy
// what must outlive the call. Data may be modified in place (then return
// Ok(r.Data)); the other fields are read-only.
type Record struct {
	// ID is the record id; the SDK returns it with the verdict, so a
	// Handler never needs to touch it.
	ID []byte
	// ArrivedMillis is the approximate arrival time, Unix milliseconds.
	ArrivedMillis int64
	// PartitionKey is the key the producer sent (empty for direct puts
	// without one).
	PartitionKey []byte
	// Shard is the stream shard, e.g. "shardId-000000000000".
	Shard []byte
	// Sequence is the record's sequence number within its shard.
	Sequence uint64
	// Data is the payload.
	Data []byte
}

// Arrived returns ArrivedMillis as a time.Time in UTC.
func (r *Record) Arrived() time.Time { return time.UnixMilli(r.ArrivedMillis).UTC() }

// Status is the verdict kind of a Result, numbered as on the wire.
type Status uint8

const (
	// StatusOk: the record continues with new data.
	StatusOk Status = 0
	// StatusDropped: the record is intentionally discarded.
	StatusDropped Status = 1
	// StatusFailed: the record goes to the backup as processing-failed.
	StatusFailed Status = 2
	// StatusUnchanged: the record continues with its input data, which
	// the host already holds, so it is not copied back.
	StatusUnchanged Status = 3
)

// KeyValue is one partition key, available to the destination's prefix as
// !{partitionKeyFromLambda:Key}.
type KeyValue struct {
	Key, Value string
}

// Result is a Handler's verdict for one record. Build it with Ok, Keep,
// Drop or Fail and add partition keys with With.
type Result struct {
	status Status
	// payload is the new data (Ok) or the message (Failed).
	payload []byte
	keys    []KeyValue
}

// Ok continues the record with data, which may alias the record's Data.
func Ok(data []byte) Result { return Result{status: StatusOk, payload: data} }

// Keep continues the record with its data unchanged. Prefer it to
// Ok(r.Data) when nothing changed: the data is then not copied back.
func Keep() Result { return Result{status: StatusUnchanged} }

// Drop discards the record; Firehose counts that as success.
func Drop() Result { return Result{status: StatusDropped} }

// Fail sends the record, unchanged, to the backup as processing-failed with
// msg as its error message.
func Fail(msg string) Result { return Result{status: StatusFailed, payload: []byte(msg)} }

// Failf is Fail with a format.
func Failf(format string, args ...any) Result { return Fail(fmt.Sprintf(format, args...)) }

// With returns r with the partition key k set to v. Keys are only kept for
// Ok and Keep results; a later value for the same key wins.
func (r Result) With(k, v string) Result {
	r.keys = append(r.keys, KeyValue{Key: k, Value: v})
	return r
}

// Status returns the verdict kind.
func (r Result) Status() Status { return r.status }

// Data returns the new data of an Ok result (nil for the others).
func (r Result) Data() []byte {
	if r.status != StatusOk {
		return nil
	}
	return r.payload
}

// Message returns the message of a Fail result ("" for the others).
func (r Result) Message() string {
	if r.status != StatusFailed {
		return ""
	}
	return string(r.payload)
}

// Keys returns the partition keys set with With.
func (r Result) Keys() []KeyValue { return r.keys }

// Handler transforms one record. It is called once per record of a batch,
// in order, never concurrently.
type Handler func(r *Record) Result

// handler is the module's one Handler. A module is a single process with a
// fixed set of exports, so the registration is necessarily package state;
// Handle sets it from the main package's init.
var handler Handler

// Handle registers h as the module's transform. Call it from an init
// function of the main package; a later call replaces the Handler.
func Handle(h Handler) { handler = h }
