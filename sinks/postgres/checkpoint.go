package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hydrant-io/hydrant/streams/record"
)

// The checkpoint table holds, per pipeline, destination and shard, the
// last record.Position loaded; a Write moves it in the transaction that
// loads the records. Its DDL is the same for PostgreSQL and Redshift, so
// the Redshift sink's stdin mode, run on PostgreSQL, shares the table.
const checkpointDDL = ` (
	pipeline varchar(256) NOT NULL,
	destination varchar(256) NOT NULL,
	shard varchar(256) NOT NULL,
	seq bigint NOT NULL,
	sub integer NOT NULL,
	updated_at timestamp NOT NULL,
	PRIMARY KEY (pipeline, destination, shard))`

// createCheckpoints creates the checkpoint table if missing. On PostgreSQL
// it runs under the advisory DDL lock (CREATE ... IF NOT EXISTS is not safe
// against itself); Redshift has no advisory locks, and a concurrent create
// there fails the Write, which is retried.
func createCheckpoints(ctx context.Context, pool *pgxpool.Pool, table string, postgres bool) error {
	sql := `CREATE TABLE IF NOT EXISTS ` + table + checkpointDDL
	var err error
	if postgres {
		// CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when
		// the table exists: a role with DML grants only must get by.
		var exists bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: look up %s: %w", table, err)
		}
		if exists {
			return nil
		}
		err = underDDLLock(ctx, pool, sql)
	} else {
		_, err = pool.Exec(ctx, sql)
	}
	if err != nil {
		return fmt.Errorf("postgres: create %s: %w", table, err)
	}
	return nil
}

// checkpoints reads and moves a shard's checkpoint row inside a load's
// transaction, holding it locked until the transaction ends so that two
// writers of one shard (a lease moving between nodes) cannot both load.
type checkpoints interface {
	// loaded returns the last position loaded; ok is false when none.
	loaded(ctx context.Context, tx pgx.Tx, b *record.Batch) (pos record.Position, ok bool, err error)
	// commit moves the row to last.
	commit(ctx context.Context, tx pgx.Tx, b *record.Batch, last record.Position) error
}

// rowLocked is PostgreSQL's: the row is created if missing and locked in
// one statement (an upsert locks the row it returns), so concurrent first
// loads of a shard wait for each other; loads of different shards do not.
type rowLocked struct{ table string }

func (c rowLocked) loaded(ctx context.Context, tx pgx.Tx, b *record.Batch) (record.Position, bool, error) {
	var seq int64
	var sub int32
	err := tx.QueryRow(ctx, `INSERT INTO `+c.table+` AS c (pipeline, destination, shard, seq, sub, updated_at)
		VALUES ($1, $2, $3, -1, 0, $4)
		ON CONFLICT (pipeline, destination, shard) DO UPDATE SET seq = c.seq
		RETURNING seq, sub`, b.Pipeline, b.Destination, string(b.Shard), time.Now().UTC()).Scan(&seq, &sub)
	if err != nil {
		return record.Position{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	if seq < 0 {
		return record.Position{}, false, nil // created just now: nothing loaded
	}
	return record.Position{Seq: uint64(seq), Sub: uint32(sub)}, true, nil
}

func (c rowLocked) commit(ctx context.Context, tx pgx.Tx, b *record.Batch, last record.Position) error {
	return moveCheckpoint(ctx, tx, c.table, b, last, false)
}

// tableLocked is Redshift's, which has neither row locks nor upserts: the
// whole checkpoint table is locked (Redshift serializes a table's COPYs
// anyway, and Firehose issues them one at a time), then the row is read,
// and updated or inserted.
type tableLocked struct{ table string }

func (c tableLocked) loaded(ctx context.Context, tx pgx.Tx, b *record.Batch) (record.Position, bool, error) {
	if _, err := tx.Exec(ctx, `LOCK `+c.table); err != nil {
		return record.Position{}, false, fmt.Errorf("lock checkpoints: %w", err)
	}
	var seq int64
	var sub int32
	err := tx.QueryRow(ctx, `SELECT seq, sub FROM `+c.table+` WHERE pipeline = $1 AND destination = $2 AND shard = $3`,
		b.Pipeline, b.Destination, string(b.Shard)).Scan(&seq, &sub)
	if errors.Is(err, pgx.ErrNoRows) {
		return record.Position{}, false, nil
	}
	if err != nil {
		return record.Position{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	return record.Position{Seq: uint64(seq), Sub: uint32(sub)}, true, nil
}

func (c tableLocked) commit(ctx context.Context, tx pgx.Tx, b *record.Batch, last record.Position) error {
	return moveCheckpoint(ctx, tx, c.table, b, last, true)
}

// moveCheckpoint moves the row to last; insert adds it when there is none.
func moveCheckpoint(ctx context.Context, tx pgx.Tx, table string, b *record.Batch, last record.Position, insert bool) error {
	now := time.Now().UTC()
	tag, err := tx.Exec(ctx, `UPDATE `+table+` SET seq = $4, sub = $5, updated_at = $6
		WHERE pipeline = $1 AND destination = $2 AND shard = $3`,
		b.Pipeline, b.Destination, string(b.Shard), int64(last.Seq), int32(last.Sub), now)
	if err == nil && tag.RowsAffected() == 0 && insert {
		_, err = tx.Exec(ctx, `INSERT INTO `+table+` (pipeline, destination, shard, seq, sub, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			b.Pipeline, b.Destination, string(b.Shard), int64(last.Seq), int32(last.Sub), now)
	}
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}
