// Package record holds the core value types that flow through Hydrant:
// records, batches and the sentinel errors every stage shares. It imports
// only the standard library so that every other package may import it.
package record

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// ShardID names a shard in Kinesis form: "shardId-" + 12-digit index.
type ShardID string

// Record is one producer record. Data is opaque bytes, as in Firehose.
type Record struct {
	// ID is assigned when the record is appended and is preserved through
	// transforms, retries and backup. See NewID.
	ID string
	// Key is the partition key that picked the shard.
	Key string
	// Data is the payload. Stages must not modify a slice they did not allocate.
	Data []byte
	// Arrived is the approximate arrival time (millisecond precision on disk).
	Arrived time.Time
	// Meta carries small per-record metadata, e.g. partition keys set by
	// processors (jq_metadata, lambda, wasm). Nil until a stage sets one.
	Meta map[string]string
	// Shard and Seq locate the record in the stream; set by the stream on append.
	Shard ShardID
	Seq   uint64
}

// Batch is a contiguous range [First, Last] of one shard's sequence numbers,
// read for one destination. Records may hold fewer entries than the range
// (processors drop records), but the range is what gets checkpointed.
type Batch struct {
	Pipeline    string
	Destination string
	Shard       ShardID
	First, Last uint64
	Records     []Record
}

// Bytes is the sum of len(Data) over the batch's records.
func (b *Batch) Bytes() int64 {
	var n int64
	for i := range b.Records {
		n += int64(len(b.Records[i].Data))
	}
	return n
}

// Oldest returns the earliest arrival time in the batch (zero if empty).
func (b *Batch) Oldest() time.Time {
	var t time.Time
	for i := range b.Records {
		if a := b.Records[i].Arrived; t.IsZero() || a.Before(t) {
			t = a
		}
	}
	return t
}

// Sentinel errors shared across package boundaries, so that ingest can map
// them to Firehose error codes without importing the stream implementation.
var (
	// ErrStreamNotFound: no pipeline/stream of that name.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrBackpressure: the stream core cannot take more now (disk budget
	// used, or shutting down); producers should back off and retry.
	ErrBackpressure = errors.New("stream is over its backlog budget")
	// ErrClosed: the component was closed.
	ErrClosed = errors.New("closed")
)

// NewID builds the opaque, unique record id returned to producers. It packs a
// stream identity (a hash of the pipeline name and the stream's creation
// time), the shard index and the sequence number, so that ids never repeat
// even if a data directory is recreated, and the same record always carries
// the same id through retries and backups.
func NewID(streamID uint64, shardIndex uint32, seq uint64) string {
	var b [20]byte
	binary.BigEndian.PutUint64(b[0:8], streamID)
	binary.BigEndian.PutUint32(b[8:12], shardIndex)
	binary.BigEndian.PutUint64(b[12:20], seq)
	var out [27]byte // RawURLEncoding.EncodedLen(20); one allocation: the string
	base64.RawURLEncoding.Encode(out[:], b[:])
	return string(out[:])
}
