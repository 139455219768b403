// Package backup writes records that could not be delivered (and, in backup
// mode "all", every source record) to the backup object store, in
// Firehose's error-output layout.
//
// Failed records of one call become ONE object of JSON lines under the
// evaluated error output prefix, one line per record:
//
//	{"attemptsMade":3,"arrivalTimestamp":1706745309000,"errorCode":"...",
//	 "errorMessage":"...","attemptEndingTimestamp":1706745400000,
//	 "rawData":"<base64>","destination":"lake","pipeline":"clicks",
//	 "shardId":"shardId-000000000000","sequenceNumber":"42"}
//
// Timestamps are Unix milliseconds. Object names follow prefix.ObjectName
// with a name-based UUID derived from the error type and the records' shard
// and sequence numbers, so a retried write overwrites its earlier object.
//
// Error output types follow spec/delivery.md. The directory sink uses
// S3Failed as well: it is the S3 layout on a local disk, and tools written
// against Firehose's error prefixes keep working.
package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/prefix"
	"github.com/hydrant-io/hydrant/streams/record"
)

// DefaultErrorPrefix is used when Config.ErrorPrefix is empty.
const DefaultErrorPrefix = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"

// Config configures a Writer.
type Config struct {
	// Pipeline, Destination and Version identify the records' origin; they
	// appear in every line and in object names.
	Pipeline, Destination string
	Version               int
	// Bucket is passed to the store.
	Bucket string
	// ErrorPrefix is the error output prefix; it must contain
	// !{firehose:error-output-type}. Empty means DefaultErrorPrefix.
	ErrorPrefix string
	// SourcePrefix is where WriteSource puts source records (backup mode
	// all); Firehose's default time layout is appended when it has no
	// timestamp. Partition keys are not allowed: source records have none.
	SourcePrefix string
	// Now is used for records without an arrival time; nil means time.Now.
	Now func() time.Time
}

// Failed is the shared failed-record type (see sinks.Failed).
type Failed = sinks.Failed

// Writer writes backups. It is safe for concurrent use.
type Writer struct {
	cfg    Config
	errTpl *prefix.Template
	srcTpl *prefix.Template
	store  sinks.ObjectStore
}

// New validates cfg and returns a Writer over store.
func New(cfg Config, store sinks.ObjectStore) (*Writer, error) {
	if cfg.Pipeline == "" {
		return nil, errors.New("backup: empty pipeline name")
	}
	if store == nil {
		return nil, errors.New("backup: nil store")
	}
	if cfg.ErrorPrefix == "" {
		cfg.ErrorPrefix = DefaultErrorPrefix
	}
	errTpl, err := prefix.Parse(cfg.ErrorPrefix, true)
	if err != nil {
		return nil, fmt.Errorf("backup: error prefix: %w", err)
	}
	if !errTpl.HasErrorType() {
		return nil, fmt.Errorf("backup: error prefix %q must contain !{firehose:error-output-type}", cfg.ErrorPrefix)
	}
	srcTpl, err := prefix.Parse(cfg.SourcePrefix, false)
	if err != nil {
		return nil, fmt.Errorf("backup: source prefix: %w", err)
	}
	if srcTpl.HasPartitionKeys() {
		return nil, fmt.Errorf("backup: source prefix %q: partition keys are not allowed", cfg.SourcePrefix)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Writer{cfg: cfg, errTpl: errTpl, srcTpl: srcTpl.WithDefaultTime(), store: store}, nil
}

// line is one JSON line of a failed-record object, in Firehose's field order.
type line struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                []byte `json:"rawData"`
	Destination            string `json:"destination"`
	Pipeline               string `json:"pipeline"`
	ShardID                string `json:"shardId"`
	SequenceNumber         string `json:"sequenceNumber"`
}

// WriteFailed writes items as one object of JSON lines under the error
// prefix evaluated for errorType. A store error is returned for the caller
// to retry; retries of the same items overwrite the same key.
func (w *Writer) WriteFailed(ctx context.Context, errorType string, items []Failed) error {
	if len(items) == 0 {
		return nil
	}
	if errorType == "" {
		return errors.New("backup: empty error type")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	h := sha256.New()
	var oldest time.Time
	minSeq, maxSeq := items[0].Record.Seq, items[0].Record.Seq
	for i := range items {
		it := &items[i]
		r := &it.Record
		if err := enc.Encode(line{
			AttemptsMade:           it.Attempts,
			ArrivalTimestamp:       millis(r.Arrived),
			ErrorCode:              it.Code,
			ErrorMessage:           it.Message,
			AttemptEndingTimestamp: millis(it.Ended),
			RawData:                r.Data,
			Destination:            w.cfg.Destination,
			Pipeline:               w.cfg.Pipeline,
			ShardID:                string(r.Shard),
			SequenceNumber:         strconv.FormatUint(r.Seq, 10),
		}); err != nil {
			return fmt.Errorf("backup: encode: %w", err)
		}
		// Every (shard, seq, sub) feeds the object id: a different subset of
		// one range, or other sub-records of the same source records (one
		// aggregate spread over two partitions), must not overwrite
		// another's object.
		_, _ = io.WriteString(h, string(r.Shard))
		_, _ = h.Write(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{0}, r.Seq), r.Sub))
		minSeq, maxSeq = min(minSeq, r.Seq), max(maxSeq, r.Seq)
		if oldest.IsZero() || (!r.Arrived.IsZero() && r.Arrived.Before(oldest)) {
			oldest = r.Arrived
		}
	}
	id := prefix.BatchUUID(w.cfg.Pipeline, w.cfg.Destination, string(items[0].Record.Shard), minSeq, maxSeq,
		"error", errorType, hex.EncodeToString(h.Sum(nil)))
	return w.put(ctx, w.errTpl, errorType, oldest, id, bytes.NewReader(buf.Bytes()))
}

// WriteSource writes b's records as they are (concatenated) under the
// source prefix, for backup mode all. The key derives from b's range.
func (w *Writer) WriteSource(ctx context.Context, b *record.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	id := prefix.BatchUUID(w.cfg.Pipeline, w.cfg.Destination, string(b.Shard), b.First, b.Last, "source")
	return w.put(ctx, w.srcTpl, "", b.Oldest(), id, &recordsReader{recs: b.Records})
}

func (w *Writer) put(ctx context.Context, tpl *prefix.Template, errorType string, t time.Time, id uuid.UUID, body io.Reader) error {
	if t.IsZero() {
		t = w.cfg.Now()
	}
	t = t.UTC()
	p, err := tpl.Eval(prefix.Values{Time: t, ErrorType: errorType, Rand: rand.NewChaCha8(sha256.Sum256(id[:]))})
	if err != nil {
		return fmt.Errorf("backup: prefix: %w", err)
	}
	key := p + prefix.ObjectName(w.cfg.Pipeline, w.cfg.Version, t, id, "")
	if err := w.store.Put(ctx, w.cfg.Bucket, key, body); err != nil {
		return fmt.Errorf("backup: put object %q: %w", key, err)
	}
	return nil
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// recordsReader streams records' Data back to back.
type recordsReader struct {
	recs []record.Record
	off  int
}

func (r *recordsReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.recs) > 0 {
		d := r.recs[0].Data[r.off:]
		k := copy(p[n:], d)
		n += k
		r.off += k
		if k == len(d) {
			r.recs, r.off = r.recs[1:], 0
		}
	}
	if n == 0 && len(r.recs) == 0 {
		return 0, io.EOF
	}
	return n, nil
}
