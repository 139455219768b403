package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hydrant-io/hydrant/sinks"
)

// errNoTable: the table does not exist. Retryable: an operator may create
// it while delivery retries.
var errNoTable = errors.New("table does not exist")

// querier is what lookup needs from a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// prepare makes sure, once and again after an error that may come from a
// changed table, that the table exists (creating it when configured to)
// and the checkpoint table beside it. Concurrent Writes wait for one.
func (s *Sink) prepare(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prepared {
		return nil
	}
	t, err := s.lookup(ctx, s.pool)
	if errors.Is(err, errNoTable) && s.cfg.CreateTable {
		if err := s.create(ctx); err != nil {
			return err
		}
		t, err = s.lookup(ctx, s.pool)
	}
	if err != nil {
		return err
	}
	if err := createCheckpoints(ctx, s.pool, t.checkpoint, true); err != nil {
		return err
	}
	s.prepared = true
	return nil
}

// lookup reads the table's schema and mapped columns from the catalog.
// A mapped column of a type values cannot be converted to is a
// permanent error: no retry can fix the configuration.
func (s *Sink) lookup(ctx context.Context, q querier) (*tableInfo, error) {
	var schema string
	var relid uint32
	// to_regclass takes the name as a value: nothing is spliced.
	err := q.QueryRow(ctx, `SELECT c.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, s.quoted()).Scan(&relid, &schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: %s: %w", s.cfg.Table, errNoTable)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: look up table %s: %w", s.cfg.Table, err)
	}
	rows, err := q.Query(ctx, `SELECT attname, atttypid, atttypmod, attnotnull, format_type(atttypid, atttypmod)
		FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, relid)
	if err != nil {
		return nil, fmt.Errorf("postgres: read columns of %s: %w", s.cfg.Table, err)
	}
	declared := map[string]column{}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.oid, &c.typmod, &c.notNull, &c.typ); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: read columns of %s: %w", s.cfg.Table, err)
		}
		declared[c.name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read columns of %s: %w", s.cfg.Table, err)
	}
	t := &tableInfo{
		ident:      pgx.Identifier{schema, s.name}.Sanitize(),
		checkpoint: pgx.Identifier{schema, CheckpointTable}.Sanitize(),
		copyName:   pgx.Identifier{schema, s.name},
	}
	var missing []string
	for _, mc := range s.cfg.Columns {
		c, ok := declared[mc.Name]
		if !ok {
			missing = append(missing, mc.Name)
			continue
		}
		if !supported(c.oid) {
			return nil, sinks.Permanent(fmt.Errorf("postgres: column %s of %s has type %s, which hydrant does not convert to (supported: %s)",
				c.name, s.cfg.Table, c.typ, SupportedTypes))
		}
		t.cols = append(t.cols, c)
		t.names = append(t.names, c.name)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("postgres: table %s has no column %s", s.cfg.Table, strings.Join(missing, ", "))
	}
	return t, nil
}

// quoted is the configured table as a quoted identifier.
func (s *Sink) quoted() string {
	if s.schema == "" {
		return pgx.Identifier{s.name}.Sanitize()
	}
	return pgx.Identifier{s.schema, s.name}.Sanitize()
}

// create makes the schema and the table from the column list.
func (s *Sink) create(ctx context.Context) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", s.quoted())
	for i, c := range s.cfg.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", pgx.Identifier{c.Name}.Sanitize(), ColumnType(c))
	}
	b.WriteString(")")
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := ddlLock(ctx, tx); err != nil {
			return err
		}
		// CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even
		// when the schema exists: only ask for it when it is missing.
		if s.schema != "" {
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT to_regnamespace($1) IS NOT NULL", pgx.Identifier{s.schema}.Sanitize()).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.schema}.Sanitize()); err != nil {
					return err
				}
			}
		}
		_, err := tx.Exec(ctx, b.String())
		return err
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42601" || pe.Code == "42704") {
			// A bad type name in the config (syntax error, undefined
			// object): no retry fixes it. Privileges may be granted.
			err = sinks.Permanent(err)
		}
		return fmt.Errorf("postgres: create table %s: %w", s.cfg.Table, err)
	}
	return nil
}

// ColumnType is the SQL type create_table gives c: its configured Type,
// else jsonb for the whole record or a constructed object or array, text
// otherwise. The type is config text, never record data.
func ColumnType(c Column) string {
	if c.Type != "" {
		return c.Type
	}
	q := strings.TrimSpace(c.Query)
	if q == "." || strings.HasPrefix(q, "{") || strings.HasPrefix(q, "[") {
		return "jsonb"
	}
	return "text"
}

// ddlLockKey is the advisory lock key Hydrant's DDL runs under: CREATE ... IF
// NOT EXISTS is not safe against itself running at the same moment (two
// destinations, or two nodes, creating the same table).
const ddlLockKey = 0x487964726e74 // "Hydrnt"

// underDDLLock runs sql in a transaction holding the advisory lock.
func underDDLLock(ctx context.Context, pool *pgxpool.Pool, sql string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := ddlLock(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql)
		return err
	})
}

// ddlLock takes the advisory DDL lock for tx's lifetime.
func ddlLock(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(ddlLockKey))
	return err
}
