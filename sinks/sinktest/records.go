package sinktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Pipeline and Destination name every batch the suite writes. A harness
// configures its sink with them where the sink needs a pipeline name
// (object names) or a destination name.
const (
	Pipeline    = "sinktest"
	Destination = "dest"
)

// Epoch is the arrival time of sequence number 0; record seq arrived
// seq milliseconds later. Fixed, so that time-based names are
// reproducible.
var Epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// streamID is the stream identity packed into record ids.
const streamID = 0x5eed_5eed

// Shard returns the id of shard i in Kinesis form ("shardId-000000000007").
func Shard(i int) record.ShardID {
	return record.ShardID(fmt.Sprintf("shardId-%012d", i))
}

// shardIndex recovers i from Shard(i); other names hash.
func shardIndex(s record.ShardID) uint32 {
	if n, err := strconv.ParseUint(strings.TrimPrefix(string(s), "shardId-"), 10, 32); err == nil {
		return uint32(n)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

const alphabet = "abcdefghijklmnopqrstuvwxyz"

// Payload is the default record data: one JSON object on a line, naming
// the record's position, with a filler body of about size bytes (at
// least a few). Every record of a run has distinct data, so records read
// back can be matched to the ones written.
func Payload(r *record.Record, size int) []byte {
	size = max(size, 8)
	off := int((r.Seq*7 + uint64(r.Sub)*13) % 26)
	body := bytes.Repeat([]byte(alphabet), (size+off)/len(alphabet)+1)[off : off+size]
	return fmt.Appendf(nil, `{"id":%q,"shard":%q,"seq":%d,"sub":%d,"body":%q}`+"\n",
		r.ID, r.Shard, r.Seq, r.Sub, body)
}

// Records returns what the runtime hands a sink for n source records of
// shard starting at sequence number seq: each source record became subs
// processed records (Sub 0, 1, ...; subs < 1 means 1), sharing the source
// record's ID, Seq and Arrived. Data is Payload with a body of 16 to 47
// bytes.
func Records(shard record.ShardID, seq uint64, n, subs int) []record.Record {
	return records(shard, seq, n, subs, 0)
}

// records is Records with bodies of size bytes (0: 16 to 47).
func records(shard record.ShardID, seq uint64, n, subs, size int) []record.Record {
	subs = max(subs, 1)
	recs := make([]record.Record, 0, n*subs)
	for s := seq; s < seq+uint64(n); s++ {
		for sub := range subs {
			r := record.Record{
				ID:      record.NewID(streamID, shardIndex(shard), s),
				Key:     "key-" + strconv.FormatUint(s%5, 10),
				Arrived: Epoch.Add(time.Duration(s) * time.Millisecond),
				Shard:   shard,
				Seq:     s,
				Sub:     uint32(sub),
			}
			if size > 0 {
				r.Data = Payload(&r, size)
			} else {
				r.Data = Payload(&r, 16+int(s+uint64(sub))%32)
			}
			recs = append(recs, r)
		}
	}
	return recs
}

// Batch builds a batch of recs the way the runtime does: records of one
// shard (and one partition) in stream order, First/Last and
// FirstSub/LastSub taken from the first and last record. recs must not be
// empty.
func Batch(recs []record.Record) *record.Batch {
	first, last := &recs[0], &recs[len(recs)-1]
	b := &record.Batch{
		Pipeline: Pipeline, Destination: Destination, Shard: first.Shard,
		First: first.Seq, Last: last.Seq, FirstSub: first.Sub, LastSub: last.Sub,
		Records: recs,
	}
	b.Arrived = b.Oldest() // as the runtime sets it when it cuts a batch
	return b
}

// Cut splits recs (one shard and partition, in stream order) into
// consecutive batches of at most size records, as successive flushes of
// one buffer. A source record's sub-records may end up in two batches.
func Cut(recs []record.Record, size int) []*record.Batch {
	var out []*record.Batch
	for len(recs) > 0 {
		n := min(size, len(recs))
		out = append(out, Batch(recs[:n:n]))
		recs = recs[n:]
	}
	return out
}

// Retry returns the attempt the runtime makes after b failed: the same
// identity (b.ID()) carrying only the records at idx, in order.
func Retry(b *record.Batch, idx ...int) *record.Batch {
	try := *b
	try.Records = make([]record.Record, 0, len(idx))
	for _, i := range idx {
		try.Records = append(try.Records, b.Records[i])
	}
	return &try
}

// Pending returns the retry the runtime makes after Write(b) returned
// err: every record for an error of the whole batch, the failed records
// that are not permanent for a *sinks.BatchError, nil when nothing is left
// to retry (err nil or permanent).
func Pending(b *record.Batch, err error) *record.Batch {
	var be *sinks.BatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &be):
		var idx []int
		for i := range b.Records {
			if ferr, ok := be.Failed[i]; ok && !sinks.IsPermanent(ferr) {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			return nil
		}
		return Retry(b, idx...)
	case sinks.IsPermanent(err):
		return nil
	default:
		return b
	}
}

// Delivered is one record read back from a destination.
type Delivered struct {
	// Data is the record's data as the destination holds it. A JSON
	// document is compared by value (key order, spacing and a trailing
	// newline do not matter), anything else byte for byte.
	Data []byte
	// Where names where the record was found (an object key, a row id),
	// for failure messages.
	Where string
}

// Lines splits the body of an object whose records are newline-terminated
// (or newline-separated) lines into one Delivered per line.
func Lines(body []byte, where string) []Delivered {
	var out []Delivered
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i+1], body[i+1:]
		} else {
			body = nil
		}
		out = append(out, Delivered{Data: line, Where: where})
	}
	return out
}

// canon is the comparison form of record data: a JSON document
// re-encoded with sorted keys, anything else as it is.
func canon(data []byte) string {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err == nil {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			if out, err := json.Marshal(v); err == nil {
				return string(out)
			}
		}
	}
	return string(data)
}

// cloneRecords deep-copies recs' Data and Meta.
func cloneRecords(recs []record.Record) []record.Record {
	out := make([]record.Record, len(recs))
	for i, r := range recs {
		r.Data = bytes.Clone(r.Data)
		if r.Meta != nil {
			m := make(map[string]string, len(r.Meta))
			for k, v := range r.Meta {
				m[k] = v
			}
			r.Meta = m
		}
		out[i] = r
	}
	return out
}
