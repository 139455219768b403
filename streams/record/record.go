// Package record holds the core value types that flow through Hydrant:
// records, batches and the sentinel errors every stage shares. It imports
// only the standard library so that every other package may import it.
package record

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
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
	// Sub numbers the records one source record became after processing
	// (de-aggregation, a processor returning several): 0, 1, 2, ... in
	// order, set by the delivery runtime. (Seq, Sub) is the record's
	// Position, unique within its shard and stable across re-deliveries.
	Sub uint32
}

// Position is where a processed record sits in its shard: the source
// record's sequence number and the sub-record's index.
type Position struct {
	Seq uint64
	Sub uint32
}

// Pos returns r's position.
func (r *Record) Pos() Position { return Position{Seq: r.Seq, Sub: r.Sub} }

// Less orders positions.
func (p Position) Less(o Position) bool {
	return p.Seq < o.Seq || (p.Seq == o.Seq && p.Sub < o.Sub)
}

// Batch is what the runtime hands a sink: processed records of one shard
// (and one partition), in stream order, for one destination. First and Last
// are the sequence numbers of its first and last record, FirstSub and
// LastSub their sub-record indexes; together with the names they are the
// batch's identity (ID), which stays the same when the batch is retried,
// even though a retry carries only the records still pending.
type Batch struct {
	Pipeline          string
	Destination       string
	Shard             ShardID
	First, Last       uint64
	FirstSub, LastSub uint32
	// Arrived is the arrival time of the oldest record when the batch was
	// cut. Retries keep it, even when the oldest record is no longer
	// among the pending ones, so object names and time prefixes derived
	// from it do not change between attempts. Zero when unknown.
	Arrived time.Time
	Records []Record
}

// BatchID identifies a batch across retries, restarts and de-aggregation:
// the same records of the same destination always get the same id. Sinks
// derive from it what must not change between attempts: object names, the
// HTTP endpoint's request id, the checkpoint row of an exactly-once load.
type BatchID struct {
	Pipeline, Destination string
	Shard                 ShardID
	First, Last           Position
}

// ID returns the batch's identity.
func (b *Batch) ID() BatchID {
	return BatchID{
		Pipeline: b.Pipeline, Destination: b.Destination, Shard: b.Shard,
		First: Position{b.First, b.FirstSub}, Last: Position{b.Last, b.LastSub},
	}
}

// String renders the id as pipeline/destination/shard/seq.sub-seq.sub,
// a stable text form to hash or to store.
func (id BatchID) String() string {
	b := make([]byte, 0, len(id.Pipeline)+len(id.Destination)+len(id.Shard)+64)
	b = append(b, id.Pipeline...)
	b = append(b, '/')
	b = append(b, id.Destination...)
	b = append(b, '/')
	b = append(b, id.Shard...)
	b = append(b, '/')
	b = strconv.AppendUint(b, id.First.Seq, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(id.First.Sub), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, id.Last.Seq, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(id.Last.Sub), 10)
	return string(b)
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
	// ErrShardEnded: a reader reached the end of a closed shard (after a
	// split or merge); its children carry on.
	ErrShardEnded = errors.New("shard ended")
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
