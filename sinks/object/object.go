// Package object is the generic object sink behind the directory sink and
// the S3 sink: it turns a batch into objects named like Firehose's and puts
// them into a sinks.ObjectStore.
//
// Each object's key is the evaluated prefix followed by
// prefix.ObjectName(pipeline, version, t, id, ext), where t is the arrival
// time of the batch (record.Batch.Arrived, else the group's oldest record; UTC) and id is
// prefix.BatchUUID(pipeline, destination, shard, first, last, partition, sub-record range):
// a retried Write of the same batch range produces the same keys and
// overwrites its earlier objects instead of duplicating them. The seed of
// !{firehose:random-string} is derived from id for the same reason.
//
// With partition keys in the prefix (dynamic partitioning), records are
// grouped by their escaped partition key values and each group becomes one
// object. Records are concatenated as they are; the append_delimiter
// processor adds newlines.
//
// A record whose partition keys are missing or invalid, or whose prefix
// evaluates to an unsafe key, is reported in a *sinks.BatchError with a
// Permanent error wrapping ErrPartitionKeyFailed (Firehose's
// partition-key-failed, marked with record.WithErrorType), so the runtime
// backs it up at once while the rest of the batch is delivered. A store
// error fails the records of that partition's object (retried, unless the
// store marked it sinks.Permanent, e.g. a key it can never accept: then
// those records go to the backup at once); with a single object it fails
// the whole batch.
//
// With Config.Format set, each object is instead one Parquet or ORC file
// holding a row per record (see format.go): records that do not fit the
// schema fail alone as format-conversion-failed, and a partition whose
// records all fail gets no object.
package object

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/sinks/encode"
	"github.com/hydrant-io/hydrant/sinks/prefix"
	"github.com/hydrant-io/hydrant/streams/record"
)

// ErrPartitionKeyFailed is wrapped by per-record errors of records whose
// prefix could not be evaluated.
var ErrPartitionKeyFailed = errors.New("partition key failed")

// Config configures a Sink.
type Config struct {
	// Pipeline and Version name objects (<pipeline>-<version>-...).
	Pipeline string
	Version  int
	// Bucket is passed to the store ("" for a directory store's root).
	Bucket string
	// Prefix is the key template; Firehose's default time layout is
	// appended when it has no timestamp and no partition key.
	Prefix string
	// Compression of each object: "" or "none", "gzip", "zip", "snappy",
	// "hadoop_snappy", "zstd" (see sinks/encode).
	Compression string
	// Ext is the object name extension, e.g. ".gz"; it must start with '.'
	// and use [0-9a-z!-_.*'()]. Empty means the compression's own
	// (Firehose's: .gz, .zip, .snappy, .hsnappy, .zst; none uncompressed).
	Ext string
	// Now is used when records carry no arrival time; nil means time.Now.
	Now func() time.Time
	// Format, when set, converts each object's records into one Parquet
	// or ORC file (nil: records are concatenated as they are). The file
	// compresses its own pages, so Compression must then be "" or "none";
	// Ext defaults to the format's (".parquet", ".orc").
	Format *columnar.Encoder
}

// Sink writes batches as objects. It is safe for concurrent use.
type Sink struct {
	cfg   Config
	tmpl  *prefix.Template
	store sinks.ObjectStore
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Checker = (*Sink)(nil)
)

// New validates cfg and returns a Sink writing to store.
func New(cfg Config, store sinks.ObjectStore) (*Sink, error) {
	if cfg.Pipeline == "" {
		return nil, errors.New("object sink: empty pipeline name")
	}
	if store == nil {
		return nil, errors.New("object sink: nil store")
	}
	if err := encode.Valid(cfg.Compression); err != nil {
		return nil, fmt.Errorf("object sink: %w", err)
	}
	if cfg.Format != nil && cfg.Compression != "" && cfg.Compression != encode.None {
		return nil, fmt.Errorf("object sink: compression %q with format %s: the file compresses its own pages; use the format's compression", cfg.Compression, cfg.Format.Kind())
	}
	switch {
	case cfg.Ext != "":
	case cfg.Format != nil:
		cfg.Ext = cfg.Format.Extension()
	default:
		cfg.Ext, _ = encode.Extension(cfg.Compression)
	}
	if err := checkExt(cfg.Ext); err != nil {
		return nil, fmt.Errorf("object sink: %w", err)
	}
	tmpl, err := prefix.Parse(cfg.Prefix, false)
	if err != nil {
		return nil, fmt.Errorf("object sink: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sink{cfg: cfg, tmpl: tmpl.WithDefaultTime(), store: store}, nil
}

func checkExt(ext string) error {
	if ext == "" {
		return nil
	}
	if ext[0] != '.' {
		return fmt.Errorf("extension %q must start with '.'", ext)
	}
	for _, c := range ext {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || strings.ContainsRune("!-_.*'()", c)) {
			return fmt.Errorf("extension %q: character %q not allowed", ext, c)
		}
	}
	return nil
}

// Partition implements sinks.Partitioner: the runtime keeps one buffer per
// distinct value of the prefix's partition keys.
func (s *Sink) Partition(r *record.Record) (string, error) {
	if !s.tmpl.HasPartitionKeys() {
		return "", nil
	}
	p, err := s.tmpl.Partition(r.Meta)
	if err != nil {
		return "", partitionKeyFailed(err)
	}
	return p, nil
}

// partitionKeyFailed is the per-record error of a record whose prefix
// cannot be evaluated: permanent, backed up as partition-key-failed.
func partitionKeyFailed(err error) error {
	return sinks.Permanent(record.WithErrorType(fmt.Errorf("%w: %w", ErrPartitionKeyFailed, err), record.PartitionKeyFailed))
}

// group is the records of one partition.
type group struct {
	partition string
	idx       []int // indexes into Batch.Records
	meta      map[string]string
	oldest    time.Time
}

// Write puts one object per partition of b. See the package doc for the
// error contract.
func (s *Sink) Write(ctx context.Context, b *record.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	groups, failed := s.group(b)
	for i := range groups {
		g := &groups[i]
		key, name, t, err := s.key(b, g)
		if err != nil {
			for _, j := range g.idx {
				failed[j] = partitionKeyFailed(err)
			}
			continue
		}
		if s.cfg.Format != nil {
			// Conversion failures count only once the object is stored: a
			// retry converts the whole partition again anyway.
			var bad map[int]error
			if bad, err = s.putConverted(ctx, key, b.Records, g.idx); err == nil {
				maps.Copy(failed, bad)
			}
		} else {
			err = s.put(ctx, key, name, t, &concatReader{recs: b.Records, idx: g.idx})
		}
		if err != nil {
			err = fmt.Errorf("put object %q: %w", key, err)
			if len(groups) == 1 && len(failed) == 0 {
				return err // the whole batch, with any RetryAfter hint intact
			}
			// Other partitions still go out; only this one is retried.
			for _, j := range g.idx {
				failed[j] = err
			}
		}
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

// group splits b's records by partition, in order of first appearance.
func (s *Sink) group(b *record.Batch) ([]group, map[int]error) {
	failed := map[int]error{}
	if !s.tmpl.HasPartitionKeys() {
		g := group{idx: make([]int, len(b.Records))}
		for i := range b.Records {
			g.idx[i] = i
		}
		g.oldest = b.Oldest()
		return []group{g}, failed
	}
	var groups []group
	byPart := map[string]int{}
	for i := range b.Records {
		r := &b.Records[i]
		p, err := s.tmpl.Partition(r.Meta)
		if err != nil {
			failed[i] = partitionKeyFailed(err)
			continue
		}
		gi, ok := byPart[p]
		if !ok {
			gi = len(groups)
			byPart[p] = gi
			groups = append(groups, group{partition: p, meta: r.Meta, oldest: r.Arrived})
		}
		g := &groups[gi]
		g.idx = append(g.idx, i)
		if r.Arrived.Before(g.oldest) {
			g.oldest = r.Arrived
		}
	}
	return groups, failed
}

// key returns the object key of a group, its object name without the
// extension (a zip's entry name) and the instant both were evaluated at.
func (s *Sink) key(b *record.Batch, g *group) (key, name string, t time.Time, err error) {
	id := prefix.BatchUUID(s.cfg.Pipeline, b.Destination, string(b.Shard), b.First, b.Last, g.partition, subRange(b))
	// The batch's arrival, kept across retries, so that a retry carrying
	// only some of the records gets the same key; a group's own oldest
	// record for batches cut by someone else.
	t = b.Arrived
	if t.IsZero() {
		t = g.oldest
	}
	if t.IsZero() {
		t = s.cfg.Now()
	}
	t = t.UTC()
	p, err := s.tmpl.Eval(prefix.Values{Time: t, Meta: g.meta, Rand: seeded(id)})
	if err != nil {
		return "", "", t, err
	}
	name = prefix.ObjectName(s.cfg.Pipeline, s.cfg.Version, t, id, "")
	return p + name + s.cfg.Ext, name, t, nil
}

// subRange completes the batch identity (record.BatchID) in object names:
// one source record can expand (decompress, deaggregate) into more than one
// buffer's worth, flushed as several batches with the same [First, Last]
// but different sub-record ranges. A retry keeps its batch's identity, so
// it still overwrites its own object.
func subRange(b *record.Batch) string {
	if b.FirstSub == 0 && b.LastSub == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(b.FirstSub), 10) + "-" + strconv.FormatUint(uint64(b.LastSub), 10)
}

// put streams body, compressed as configured, into the store. The
// compressor runs beside the upload, so concurrent flushes of different
// partitions and shards compress on every core.
func (s *Sink) put(ctx context.Context, key, name string, t time.Time, body io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := encode.Compress(ctx, body, s.cfg.Compression, name, t)
	err := s.store.Put(ctx, s.cfg.Bucket, key, r)
	cancel()
	if cerr := r.Close(); err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	return err
}

// seeded returns a deterministic random stream for id, so that
// !{firehose:random-string} is stable across retries of one batch.
func seeded(id uuid.UUID) io.Reader {
	return rand.NewChaCha8(sha256.Sum256(id[:]))
}

// Check implements sinks.Checker: it asks the store whether the bucket
// answers (sinks.BucketChecker), else whether the store does
// (sinks.Checker). A store with neither capability has nothing to check.
func (s *Sink) Check(ctx context.Context) error {
	var err error
	switch st := s.store.(type) {
	case sinks.BucketChecker:
		err = st.CheckBucket(ctx, s.cfg.Bucket)
	case sinks.Checker:
		err = st.Check(ctx)
	}
	if err != nil {
		return fmt.Errorf("object sink: %w", err)
	}
	return nil
}

// Close does nothing; the store is owned by the caller.
func (s *Sink) Close(context.Context) error { return nil }

// concatReader streams the Data of the selected records back to back
// without copying them into one buffer.
type concatReader struct {
	recs []record.Record
	idx  []int
	off  int // offset into the current record
}

func (c *concatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(c.idx) > 0 {
		d := c.recs[c.idx[0]].Data[c.off:]
		k := copy(p[n:], d)
		n += k
		c.off += k
		if k == len(d) {
			c.idx = c.idx[1:]
			c.off = 0
		}
	}
	if n == 0 && len(c.idx) == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// WriteTo lets io.Copy hand each record to the destination directly.
func (c *concatReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(c.idx) > 0 {
		d := c.recs[c.idx[0]].Data[c.off:]
		n, err := w.Write(d)
		total += int64(n)
		if err != nil {
			c.off += n
			return total, err
		}
		c.idx = c.idx[1:]
		c.off = 0
	}
	return total, nil
}
