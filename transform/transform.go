// Package transform defines the processor seam of the delivery runtime:
// a batch in, one result per record out, in Firehose's Lambda vocabulary
// (Ok, Dropped, ProcessingFailed). Concrete processors live in sub-packages.
package transform

import (
	"context"
	"maps"
	"strconv"

	"github.com/hydrant-io/hydrant/streams/record"
)

// Status is a per-record verdict, as in Firehose's Lambda transform contract.
type Status uint8

const (
	// Ok: the record continues with Out (zero or more records; one usually).
	Ok Status = iota
	// Dropped: the record is intentionally discarded (counts as resolved).
	Dropped
	// Failed: the record goes to the backup as processing-failed with Err.
	Failed
)

// Result is the verdict for one input record.
type Result struct {
	Status Status
	// Out holds the records that continue when Status is Ok. Processors copy
	// the input record and change Data/Meta; ID, Shard, Seq and Arrived stay.
	Out []record.Record
	Err error
}

// Processor transforms a batch. Process returns exactly len(in) results,
// index-aligned with in. A non-nil error means the whole call failed (trap,
// timeout, crashed child); the runtime retries it and then backs the records
// up as processing-failed. Process may be called concurrently for different
// shards; Close releases resources and is called once.
type Processor interface {
	Process(ctx context.Context, in []record.Record) ([]Result, error)
	Close(ctx context.Context) error
}

// Retrier is implemented by processors that carry their own retry count for
// a call that failed as a whole (lambda's NumberOfRetries); others get the
// runtime's default.
type Retrier interface {
	Retries() int
}

// WithOutput returns r with new data and the partition keys a lambda, exec
// or wasm processor returned, stored in Meta where
// !{partitionKeyFromLambda:K} finds them. r's Meta is copied, never
// modified; ID, Key, Shard, Seq and Arrived stay.
func WithOutput(r record.Record, data []byte, partitionKeys map[string]string) record.Record {
	r.Data = data
	if len(partitionKeys) == 0 {
		return r
	}
	keys := make(map[string]string, len(partitionKeys))
	for k, v := range partitionKeys {
		keys[record.LambdaKey(k)] = v
	}
	return WithMeta(r, keys)
}

// WithMeta returns r with the Meta entries of add set, copying r's Meta
// rather than changing it: Meta maps may be shared between records.
func WithMeta(r record.Record, add map[string]string) record.Record {
	meta := make(map[string]string, len(r.Meta)+len(add))
	maps.Copy(meta, r.Meta)
	maps.Copy(meta, add)
	r.Meta = meta
	return r
}

// RecordIDs names each record of a batch uniquely, for processors whose
// contract requires unique ids (lambda, exec, wasm). Records split from one
// source record (deaggregate) share its ID; the second and later get ".N"
// appended (record ids are base64url, without dots), N being their
// subsequence number, returned in sub. A record without an ID is named by
// its sequence number.
func RecordIDs(in []record.Record) (ids []string, sub []int) {
	ids, sub = make([]string, len(in)), make([]int, len(in))
	count := make(map[string]int, len(in))
	for i := range in {
		base := in[i].ID
		if base == "" {
			base = strconv.FormatUint(in[i].Seq, 10)
		}
		n := count[base]
		count[base] = n + 1
		ids[i], sub[i] = base, n
		if n > 0 {
			ids[i] += "." + strconv.Itoa(n)
		}
	}
	return ids, sub
}
