package postgres

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/klauspost/compress/gzip"

	"github.com/hydrant-io/hydrant/internal/jsonq"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/prefix"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Load modes of the Redshift sink.
const (
	// LoadCopy issues Redshift's COPY FROM the manifest.
	LoadCopy = "copy"
	// LoadStdin reads the staged files back through the staging store and
	// loads them with COPY FROM STDIN: the same flow against PostgreSQL,
	// which cannot read S3 (tests, and a Redshift stand-in).
	LoadStdin = "stdin"
)

// RedshiftConfig describes one Redshift destination.
type RedshiftConfig struct {
	// Table is "name" or "schema.name".
	Table string
	// Columns, when set, shape each staged document as {column: value of
	// its jq expression} and give COPY its column list; otherwise records
	// are staged as they are.
	Columns []Column
	// CopyOptions follow MANIFEST in the COPY command, e.g.
	// "FORMAT AS JSON 'auto' GZIP". Config text, never record data.
	CopyOptions string
	// Credentials is the CREDENTIALS string COPY passes to Redshift,
	// e.g. "aws_iam_role=arn:aws:iam::123456789012:role/load".
	Credentials string
	// Staging is the store, bucket and key prefix batches are staged in.
	Staging        sinks.ObjectStore
	Bucket, Prefix string
	// Pipeline and Version name the staged objects as Firehose does.
	Pipeline string
	Version  int
	// Load is LoadCopy (default) or LoadStdin.
	Load string
}

// Redshift stages each flush as one gzip'd JSON-lines object with a
// manifest beside it and loads it with COPY ... MANIFEST, in a
// transaction with the destination's checkpoint row: exactly once, as
// the postgres sink. A failed COPY fails the whole batch (Redshift
// reports load errors per COPY, not per record): it is retried until
// retry.duration, then the records go to the backup as redshift-failed.
type Redshift struct {
	pool   *pgxpool.Pool
	cfg    RedshiftConfig
	table  *Sink    // the table name, its quoting and, for LoadStdin, the loader
	m      *mapping // nil: records are staged as they are
	reader sinks.ObjectReader

	mu       sync.Mutex
	prepared bool
}

// NewRedshift returns a Redshift sink loading into cfg.Table through pool.
func NewRedshift(pool *pgxpool.Pool, cfg RedshiftConfig) (*Redshift, error) {
	if cfg.Load == "" {
		cfg.Load = LoadCopy
	}
	if cfg.Load != LoadCopy && cfg.Load != LoadStdin {
		return nil, fmt.Errorf("redshift: load %q: want %s or %s", cfg.Load, LoadCopy, LoadStdin)
	}
	if cfg.Staging == nil {
		return nil, errors.New("redshift: no staging store")
	}
	cols := cfg.Columns
	if cfg.Load == LoadStdin && len(cols) == 0 {
		// As JSON 'auto' does: no columns given, the staged document's
		// keys name the columns; the stdin loader needs the list.
		return nil, errors.New("redshift: load: stdin needs columns")
	}
	// The stdin loader reads the staged documents back by column name.
	loadCols := make([]Column, len(cols))
	for i, c := range cols {
		loadCols[i] = Column{Name: c.Name, Query: "." + jqKey(c.Name), Type: c.Type}
	}
	if len(loadCols) == 0 {
		loadCols = []Column{{Name: "unused", Query: "."}}
	}
	table, err := New(pool, Config{Table: cfg.Table, Columns: loadCols})
	if err != nil {
		return nil, fmt.Errorf("redshift: %w", err)
	}
	r := &Redshift{pool: pool, cfg: cfg, table: table}
	if len(cols) > 0 {
		if r.m, err = newMapping(cols); err != nil {
			return nil, fmt.Errorf("redshift: %w", err)
		}
	}
	if cfg.Load == LoadStdin {
		rd, ok := cfg.Staging.(sinks.ObjectReader)
		if !ok {
			return nil, errors.New("redshift: load: stdin needs a staging store that can read objects back")
		}
		r.reader = rd
	}
	return r, nil
}

// jqKey is name as a jq object key (."name").
func jqKey(name string) string {
	b, _ := json.Marshal(name)
	return string(b)
}

// Write stages and loads b's records not yet loaded. See Redshift.
func (r *Redshift) Write(ctx context.Context, b *record.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	t, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	var failed map[int]error
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		ck := r.checkpoints(t)
		done, seen, err := ck.loaded(ctx, tx, b)
		if err != nil {
			return err
		}
		from := 0
		for seen && from < len(b.Records) && !done.Less(b.Records[from].Pos()) {
			from++
		}
		if from == len(b.Records) {
			return nil // loaded before
		}
		var body []byte
		body, failed = r.stage(b.Records[from:], from)
		if body != nil {
			manifest, err := r.put(ctx, b, body)
			if err != nil {
				return err
			}
			if err := r.load(ctx, tx, t, manifest); err != nil {
				return err
			}
		}
		return ck.commit(ctx, tx, b, b.Records[len(b.Records)-1].Pos())
	})
	if err != nil {
		return r.classify(err)
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

// prepare creates the checkpoint table, once. The target table is not
// looked up in Redshift's catalog (COPY reports a missing table itself);
// the stdin loader checks it as the postgres sink does.
func (r *Redshift) prepare(ctx context.Context) (*tableInfo, error) {
	t := &tableInfo{ident: r.table.quoted(), checkpoint: r.checkpointTable()}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prepared {
		return t, nil
	}
	if r.cfg.Load == LoadStdin {
		if err := r.table.prepare(ctx); err != nil {
			return nil, err
		}
	} else if err := createCheckpoints(ctx, r.pool, t.checkpoint, false); err != nil {
		return nil, err
	}
	r.prepared = true
	return t, nil
}

// checkpoints is Redshift's table-locking SQL for the COPY load; the stdin
// load runs on PostgreSQL, where a table lock would make every postgres
// destination writing the same schema wait: it locks the row instead.
func (r *Redshift) checkpoints(t *tableInfo) checkpoints {
	if r.cfg.Load == LoadStdin {
		return rowLocked{t.checkpoint}
	}
	return tableLocked{t.checkpoint}
}

func (r *Redshift) checkpointTable() string {
	if r.table.schema == "" {
		return pgx.Identifier{CheckpointTable}.Sanitize()
	}
	return pgx.Identifier{r.table.schema, CheckpointTable}.Sanitize()
}

// stage writes recs as gzip'd JSON lines; a record whose columns cannot be
// computed fails alone (index offset by from).
func (r *Redshift) stage(recs []record.Record, from int) (body []byte, failed map[int]error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	n := 0
	for i := range recs {
		line, err := r.document(recs[i].Data)
		if err != nil {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[from+i] = sinks.Permanent(record.WithErrorType(err, record.RedshiftFailed))
			continue
		}
		_, _ = zw.Write(line)
		if len(line) == 0 || line[len(line)-1] != '\n' {
			_, _ = zw.Write([]byte{'\n'})
		}
		n++
	}
	_ = zw.Close()
	if n == 0 {
		return nil, failed
	}
	return buf.Bytes(), failed
}

// document is what is staged for one record: the record itself, or the
// object of its mapped columns.
func (r *Redshift) document(data []byte) ([]byte, error) {
	if r.m == nil {
		// One bad line would fail the whole COPY: refuse it here, alone.
		if !jsonq.Valid(data) {
			return nil, errors.New("record is not a JSON document")
		}
		return data, nil
	}
	vals := make([]any, len(r.m.names))
	if err := r.m.values(data, vals); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(vals))
	for i, v := range vals {
		out[r.m.names[i]] = v
	}
	return json.Marshal(out)
}

// put stages body and its manifest, both named by the batch identity so
// that a retry overwrites them, and returns the manifest's URL.
func (r *Redshift) put(ctx context.Context, b *record.Batch, body []byte) (manifest string, err error) {
	id := prefix.BatchUUID(r.cfg.Pipeline, b.Destination, string(b.Shard), b.First, b.Last, subRange(b))
	t := b.Arrived
	if t.IsZero() {
		t = time.Now()
	}
	t = t.UTC()
	name := prefix.ObjectName(r.cfg.Pipeline, r.cfg.Version, t, id, "")
	hour := t.Format("2006/01/02/15/")
	dataKey := r.cfg.Prefix + hour + name + ".gz"
	manifestKey := r.cfg.Prefix + "manifests/" + hour + name
	if err := r.cfg.Staging.Put(ctx, r.cfg.Bucket, dataKey, bytes.NewReader(body)); err != nil {
		return "", fmt.Errorf("stage %s: %w", dataKey, err)
	}
	m, err := Manifest(s3URL(r.cfg.Bucket, dataKey))
	if err != nil {
		return "", err
	}
	if err := r.cfg.Staging.Put(ctx, r.cfg.Bucket, manifestKey, bytes.NewReader(m)); err != nil {
		return "", fmt.Errorf("stage manifest %s: %w", manifestKey, err)
	}
	return s3URL(r.cfg.Bucket, manifestKey), nil
}

// subRange tells apart batches of one source-record range (see the object
// sink): part of the batch identity.
func subRange(b *record.Batch) string {
	if b.FirstSub == 0 && b.LastSub == 0 {
		return ""
	}
	return fmt.Sprintf("%d-%d", b.FirstSub, b.LastSub)
}

func s3URL(bucket, key string) string { return "s3://" + bucket + "/" + key }

// manifestFile is Redshift's manifest format.
type manifestFile struct {
	Entries []manifestEntry `json:"entries"`
}

type manifestEntry struct {
	URL       string `json:"url"`
	Mandatory bool   `json:"mandatory"`
}

// Manifest returns the manifest that lists urls, every one mandatory.
func Manifest(urls ...string) ([]byte, error) {
	m := manifestFile{Entries: make([]manifestEntry, len(urls))}
	for i, u := range urls {
		m.Entries[i] = manifestEntry{URL: u, Mandatory: true}
	}
	return json.Marshal(m)
}

// load runs the COPY of the staged manifest inside tx.
func (r *Redshift) load(ctx context.Context, tx pgx.Tx, t *tableInfo, manifest string) error {
	if r.cfg.Load == LoadStdin {
		return r.loadStdin(ctx, tx, manifest)
	}
	_, err := tx.Exec(ctx, CopySQL(t.ident, r.cfg.Columns, manifest, r.cfg.Credentials, r.cfg.CopyOptions))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// CopySQL is the COPY command Redshift receives. Every part is config text
// or a name derived from the batch identity; literals are quoted.
func CopySQL(table string, cols []Column, manifest, credentials, options string) string {
	var b strings.Builder
	b.WriteString("COPY ")
	b.WriteString(table)
	if len(cols) > 0 {
		b.WriteString(" (")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pgx.Identifier{c.Name}.Sanitize())
		}
		b.WriteString(")")
	}
	b.WriteString(" FROM ")
	b.WriteString(quoteLiteral(manifest))
	b.WriteString(" CREDENTIALS ")
	b.WriteString(quoteLiteral(credentials))
	b.WriteString(" MANIFEST")
	if o := strings.TrimSpace(options); o != "" {
		b.WriteString(" ")
		b.WriteString(o)
	}
	return b.String()
}

// quoteLiteral is s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// loadStdin reads the manifest and every file it lists back from the
// staging store and loads their documents with COPY FROM STDIN, each
// column from the document's key of the same name. Any record that does
// not fit fails the whole load, as a Redshift COPY does.
func (r *Redshift) loadStdin(ctx context.Context, tx pgx.Tx, manifest string) error {
	t, err := r.table.lookup(ctx, tx)
	if err != nil {
		return err
	}
	var m manifestFile
	if err := r.readJSON(ctx, manifest, &m); err != nil {
		return err
	}
	var rows [][]any
	for _, e := range m.Entries {
		more, err := r.readRows(ctx, t, e.URL)
		if err != nil {
			return err
		}
		rows = append(rows, more...)
	}
	if _, err := tx.CopyFrom(ctx, t.copyName, t.names, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy from stdin: %w", err)
	}
	return nil
}

func (r *Redshift) readJSON(ctx context.Context, u string, v any) error {
	body, err := r.get(ctx, u)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("read %s: %w", u, err)
	}
	return nil
}

// readRows reads one staged gzip'd JSON-lines file into rows.
func (r *Redshift) readRows(ctx context.Context, t *tableInfo, u string) ([][]any, error) {
	body, err := r.get(ctx, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	zr, err := gzip.NewReader(body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", u, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var rows [][]any
	vals := make([]any, len(t.cols))
	for line := 1; sc.Scan(); line++ {
		row, err := r.table.row(t, sc.Bytes(), vals)
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: %w", u, line, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", u, err)
	}
	return rows, nil
}

// get opens an s3://bucket/key URL of the staging bucket.
func (r *Redshift) get(ctx context.Context, u string) (io.ReadCloser, error) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "s3" || p.Host != r.cfg.Bucket {
		return nil, fmt.Errorf("manifest entry %q is not in the staging bucket", u)
	}
	return r.reader.Get(ctx, p.Host, strings.TrimPrefix(p.Path, "/"))
}

func (r *Redshift) classify(err error) error {
	if sinks.IsPermanent(err) {
		return err
	}
	r.mu.Lock()
	r.prepared = false
	r.mu.Unlock()
	return fmt.Errorf("redshift: %w", err)
}

// Close does nothing: the pool belongs to the store.
func (r *Redshift) Close(context.Context) error { return nil }

// Check reports whether the database answers, the staging bucket takes
// the store's credentials, and, for the stdin load, the table exists with
// the mapped columns.
func (r *Redshift) Check(ctx context.Context) error {
	if err := r.pool.Ping(ctx); err != nil {
		return fmt.Errorf("redshift: %w", err)
	}
	if bc, ok := r.cfg.Staging.(sinks.BucketChecker); ok {
		if err := bc.CheckBucket(ctx, r.cfg.Bucket); err != nil {
			return fmt.Errorf("redshift: staging: %w", err)
		}
	}
	if r.cfg.Load == LoadStdin {
		if _, err := r.table.lookup(ctx, r.pool); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ sinks.Sink    = (*Redshift)(nil)
	_ sinks.Checker = (*Redshift)(nil)
)
