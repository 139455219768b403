// Package postgres delivers batches into a PostgreSQL table with one
// COPY FROM STDIN per flush, exactly once.
//
// Each Write runs one transaction: it locks the destination's row in the
// checkpoint table (hydrant_checkpoints, in the target table's schema),
// skips the records at or below the position it holds (a batch delivered
// before a crash and read again), COPYs the rest and moves the row to the
// batch's last position. Both commit together, so a record is in the table
// exactly when the checkpoint is past it.
//
// Values are converted to each column's type in Go before the COPY; a
// record that does not fit (a bad number, a string too long, null into
// NOT NULL, a document that is not JSON) fails alone, permanently, with
// the column and the reason, and goes to the backup as postgres-failed,
// while the rest of the batch is loaded. Nothing from a record ever
// becomes SQL text: identifiers are quoted, values travel in COPY's
// binary format.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// CheckpointTable is the table, in the target table's schema, that holds
// the last position loaded per pipeline, destination and shard.
const CheckpointTable = "hydrant_checkpoints"

// Column maps a table column to a jq expression over the record.
type Column struct {
	Name  string
	Query string
	// Type is the column's SQL type when CreateTable creates it; "" means
	// inferred: jsonb for the whole record or a constructed object or
	// array, text otherwise.
	Type string
}

// Config describes one destination.
type Config struct {
	// Table is "name" or "schema.name".
	Table   string
	Columns []Column
	// CreateTable creates the table (and its schema) from Columns when it
	// does not exist.
	CreateTable bool
}

// Sink loads batches into one table. Create it with New.
type Sink struct {
	pool   *pgxpool.Pool
	cfg    Config
	schema string // from Table; "" = the connection's current schema
	name   string
	m      *mapping

	mu       sync.Mutex
	prepared bool // the table and the checkpoint table exist; reset after a schema error
}

// tableInfo is the table as the database declares it.
type tableInfo struct {
	ident      string // quoted schema.table
	checkpoint string // quoted schema.hydrant_checkpoints
	copyName   pgx.Identifier
	cols       []column // in Config.Columns order
	names      []string
}

// New returns a sink loading into cfg.Table through pool, which the caller
// owns (one pool per store, shared by its destinations).
func New(pool *pgxpool.Pool, cfg Config) (*Sink, error) {
	schema, name, err := splitTable(cfg.Table)
	if err != nil {
		return nil, err
	}
	if len(cfg.Columns) == 0 {
		return nil, errors.New("postgres: no columns mapped")
	}
	m, err := newMapping(cfg.Columns)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Sink{pool: pool, cfg: cfg, schema: schema, name: name, m: m}, nil
}

// splitTable reads "schema.name" or "name" (no quoting: names with a dot
// cannot be configured).
func splitTable(t string) (schema, name string, err error) {
	parts := strings.Split(t, ".")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return "", parts[0], nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("postgres: table %q: want name or schema.name", t)
}

// Write loads b's records not yet loaded, in one transaction with the
// checkpoint row. See the package doc.
func (s *Sink) Write(ctx context.Context, b *record.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	// refused holds the records PostgreSQL refused in an earlier round of
	// this Write; the transaction runs again without them.
	refused := map[int]error{}
	for {
		var failed map[int]error
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
			failed, err = s.load(ctx, tx, b, refused)
			return err
		})
		if err == nil {
			if len(failed) > 0 {
				return &sinks.BatchError{Failed: failed}
			}
			return nil
		}
		var ce copyError
		if errors.As(err, &ce) && ctx.Err() == nil {
			if i, ok := ce.record(); ok && len(refused) < maxRefused {
				refused[i] = badRecord(fmt.Errorf("refused by PostgreSQL: %w", ce.err))
				continue
			}
			if len(refused) >= maxRefused {
				// So many rows refused one by one is a table problem (a
				// NOT NULL column the config does not map, say), not bad
				// records: retried, so an operator can fix it.
				err = fmt.Errorf("PostgreSQL refused %d rows of this batch one after another, the last: %w", len(refused)+1, err)
			}
		}
		return s.classify(err)
	}
}

// maxRefused bounds how many rows one Write takes out one at a time; each
// costs a round of the transaction.
const maxRefused = 16

// load is one Write transaction. The table is described inside it, so
// values are converted to the types the COPY meets, even right after the
// table changed; records at or below the checkpoint are skipped before
// they are converted.
func (s *Sink) load(ctx context.Context, tx pgx.Tx, b *record.Batch, refused map[int]error) (map[int]error, error) {
	t, err := s.lookup(ctx, tx)
	if err != nil {
		return nil, err
	}
	ck := rowLocked{t.checkpoint}
	done, seen, err := ck.loaded(ctx, tx, b)
	if err != nil {
		return nil, err
	}
	from := 0
	for seen && from < len(b.Records) && !done.Less(b.Records[from].Pos()) {
		from++
	}
	if from == len(b.Records) {
		return nil, nil // all in the table already (another writer of the shard, or a retry)
	}
	rows, idx, failed := s.rows(t, b.Records, from, refused)
	// The records refused in an earlier round fail with their reason,
	// unless they are at or below the checkpoint: then another writer of
	// the shard has decided them already.
	for i, err := range refused {
		if i >= from {
			failed[i] = err
		}
	}
	if len(rows) > 0 {
		if _, err := tx.CopyFrom(ctx, t.copyName, t.names, pgx.CopyFromRows(rows)); err != nil {
			return nil, copyError{err: err, idx: idx}
		}
	}
	return failed, ck.commit(ctx, tx, b, b.Records[len(b.Records)-1].Pos())
}

// rows converts recs[from:] to COPY rows, leaving out the refused ones;
// idx[i] is the index in recs of rows[i]. failed holds the records that
// do not fit the table. Large batches are converted on every core.
func (s *Sink) rows(t *tableInfo, recs []record.Record, from int, refused map[int]error) (rows [][]any, idx []int, failed map[int]error) {
	type part struct {
		rows   [][]any
		idx    []int
		failed map[int]error
	}
	parts := eachChunk(len(recs)-from, func(lo, hi int) part {
		p := part{rows: make([][]any, 0, hi-lo), idx: make([]int, 0, hi-lo), failed: map[int]error{}}
		vals := make([]any, len(t.cols))
		for i := from + lo; i < from+hi; i++ {
			if refused[i] != nil {
				continue
			}
			row, err := s.row(t, recs[i].Data, vals)
			if err != nil {
				p.failed[i] = badRecord(err)
				continue
			}
			p.rows = append(p.rows, row)
			p.idx = append(p.idx, i)
		}
		return p
	})
	if len(parts) == 1 {
		return parts[0].rows, parts[0].idx, parts[0].failed
	}
	failed = map[int]error{}
	for _, p := range parts {
		rows = append(rows, p.rows...)
		idx = append(idx, p.idx...)
		maps.Copy(failed, p.failed)
	}
	return rows, idx, failed
}

// badRecord marks a record's own failure: permanent, to postgres-failed.
func badRecord(err error) error {
	return sinks.Permanent(record.WithErrorType(err, record.PostgresFailed))
}

// row converts one record; vals is scratch space, one slot per column.
func (s *Sink) row(t *tableInfo, data []byte, vals []any) ([]any, error) {
	if err := s.m.values(data, vals); err != nil {
		return nil, err
	}
	row := make([]any, len(t.cols))
	for i := range t.cols {
		c := &t.cols[i]
		var err error
		if row[i], err = convert(vals[i], c); err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return row, nil
}

// copyLine finds the line COPY failed on in an error's context
// ("COPY events, line 3, column n: ...").
var copyLine = regexp.MustCompile(`COPY [^,]+, line (\d+)`)

// copyError is a COPY failure; idx maps COPY's lines (from 1) to records.
type copyError struct {
	err error
	idx []int
}

func (e copyError) Error() string { return e.err.Error() }
func (e copyError) Unwrap() error { return e.err }

// record returns the index of the record on the line a data error names.
func (e copyError) record() (int, bool) {
	var pe *pgconn.PgError
	if !errors.As(e.err, &pe) || !dataError(pe.Code) {
		return 0, false
	}
	m := copyLine.FindStringSubmatch(pe.Where)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > len(e.idx) {
		return 0, false
	}
	return e.idx[n-1], true
}

// dataError: class 22 (data exception) and 23 (integrity constraint
// violation) are about one row's values.
func dataError(code string) bool {
	return strings.HasPrefix(code, "22") || strings.HasPrefix(code, "23")
}

// classify turns a failed transaction into the runtime's error kinds, and
// forgets the table's description after an error that may come from a
// changed table, so that the next attempt reads it again.
func (s *Sink) classify(err error) error {
	if errors.Is(err, errNoTable) {
		s.forget() // with create_table, the next Write creates it again
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "42"), pe.Code == "0A000": // syntax/access rule; feature not supported
			s.forget()
		}
	}
	return fmt.Errorf("postgres: %w", err)
}

func (s *Sink) forget() {
	s.mu.Lock()
	s.prepared = false
	s.mu.Unlock()
}

// Close does nothing: the pool belongs to the store.
func (s *Sink) Close(context.Context) error { return nil }

// Check reports whether the database answers and the table exists with
// every mapped column of a supported type. It writes nothing (with
// CreateTable, a missing table is fine: the first flush creates it).
func (s *Sink) Check(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	_, err := s.lookup(ctx, s.pool)
	if errors.Is(err, errNoTable) && s.cfg.CreateTable {
		return nil
	}
	return err
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Checker = (*Sink)(nil)
)

// ConnectTimeout bounds one connection attempt: a database that does not
// answer fails the attempt (retried) instead of hanging a flush.
const ConnectTimeout = 10 * time.Second

// NewPool opens the connection pool of a postgres store; it connects on
// first use. Statements are described on every execution instead of
// cached per connection: the COPY takes the column types from the
// description, and a cached one would outlive a change of the table.
// A flush runs a handful of statements, so the extra round trips cost
// little.
func NewPool(dsn string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid dsn: %w", err)
	}
	pc.ConnConfig.ConnectTimeout = ConnectTimeout
	pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	p, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return p, nil
}
