//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/postgres"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// batch builds a batch of shard-0 records from JSON documents, seq from 1.
func batch(docs ...string) *record.Batch {
	b := &record.Batch{Pipeline: "p", Destination: "d", Shard: "shardId-000000000000", First: 1, Last: uint64(len(docs))}
	for i, d := range docs {
		b.Records = append(b.Records, record.Record{Seq: uint64(i + 1), Data: []byte(d)})
	}
	return b
}

// create_table makes the schema and the table from the column list, with
// the configured types and inferred ones; Check is healthy before the
// first flush creates it.
func TestPostgres_CreateTable(t *testing.T) {
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t, admin) + "_new" // created by the sink
	t.Cleanup(func() {
		_, _ = admin.Exec(t.Context(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	s, err := postgres.New(newPool(t, pgtest.DSN()), postgres.Config{
		Table: schema + ".events", CreateTable: true,
		Columns: []postgres.Column{
			{Name: "id", Query: ".id", Type: "bigint NOT NULL"},
			{Name: "at", Query: ".at", Type: "timestamptz"},
			{Name: "name", Query: ".name"},
			{Name: "doc", Query: "."},
		},
	})
	require.NoError(t, err)
	require.NoError(t, s.Check(t.Context()))
	require.NoError(t, s.Write(t.Context(), batch(`{"id":1,"at":"2026-12-07T10:00:00Z","name":"a"}`, `{"id":2,"name":"b"}`)))

	types := map[string]string{}
	rows, err := admin.Query(t.Context(), `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events'`, schema)
	require.NoError(t, err)
	for rows.Next() {
		var n, typ string
		require.NoError(t, rows.Scan(&n, &typ))
		types[n] = typ
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]string{"id": "bigint", "at": "timestamp with time zone", "name": "text", "doc": "jsonb"}, types)
	var n int
	var name string
	require.NoError(t, admin.QueryRow(t.Context(), `SELECT count(*), max(doc->>'name') FROM `+pgx.Identifier{schema, "events"}.Sanitize()).Scan(&n, &name))
	require.Equal(t, 2, n)
	require.Equal(t, "b", name)
}

// A row PostgreSQL itself refuses (here a CHECK constraint the Go
// conversion cannot know) fails alone with PostgreSQL's reason; the rest
// of the batch is loaded in the same flush.
func TestPostgres_RowRefusedByTheServerFailsAlone(t *testing.T) {
	admin := pgtest.Admin(t)
	table := pgtest.Schema(t, admin) + ".events"
	_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+" (id bigint NOT NULL CHECK (id > 0), name text)")
	require.NoError(t, err)
	s, err := postgres.New(newPool(t, pgtest.DSN()), postgres.Config{Table: table,
		Columns: []postgres.Column{{Name: "id", Query: ".id"}, {Name: "name", Query: ".name"}}})
	require.NoError(t, err)
	err = s.Write(t.Context(), batch(`{"id":1}`, `{"id":-5}`, `{"id":3}`, `{"id":"x"}`, `{"id":-6}`, `not json`))
	var be *sinks.BatchError
	require.True(t, errors.As(err, &be), "%v", err)
	require.Len(t, be.Failed, 4)
	for i, want := range map[int]string{1: "violates check constraint", 3: `column id: "x" is not a valid bigint`, 4: "violates check constraint", 5: "not a JSON document"} {
		require.ErrorContains(t, be.Failed[i], want)
		require.True(t, sinks.IsPermanent(be.Failed[i]))
		require.Equal(t, record.PostgresFailed, record.ErrorType(be.Failed[i], ""))
	}
	var ids []int64
	rows, err := admin.Query(t.Context(), "SELECT id FROM "+table+" ORDER BY id")
	require.NoError(t, err)
	ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Equal(t, []int64{1, 3}, ids)
}

// After the table changes under it (a column dropped and added back with
// another type), a flush fails retryably once and the next one reads the
// table again and loads.
func TestPostgres_TableChangeIsReadAgain(t *testing.T) {
	admin := pgtest.Admin(t)
	table := pgtest.Schema(t, admin) + ".events"
	_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+" (id bigint, v integer)")
	require.NoError(t, err)
	s, err := postgres.New(newPool(t, pgtest.DSN()), postgres.Config{Table: table,
		Columns: []postgres.Column{{Name: "id", Query: ".id"}, {Name: "v", Query: ".v"}}})
	require.NoError(t, err)
	require.NoError(t, s.Write(t.Context(), batch(`{"id":1,"v":1}`)))
	_, err = admin.Exec(t.Context(), "ALTER TABLE "+table+" DROP COLUMN v; ALTER TABLE "+table+" ADD COLUMN v text")
	require.NoError(t, err)

	b := batch(`{"id":1,"v":1}`, `{"id":2,"v":"two"}`)
	b.Records[0].Seq, b.Records[1].Seq, b.First, b.Last = 2, 3, 2, 3
	deadline := time.Now().Add(10 * time.Second)
	for err = s.Write(t.Context(), b); err != nil; err = s.Write(t.Context(), b) {
		require.False(t, sinks.IsPermanent(err), "%v", err)
		require.True(t, time.Now().Before(deadline), "still failing: %v", err)
	}
	var vs []string
	rows, err := admin.Query(t.Context(), "SELECT coalesce(v, '-') FROM "+table+" ORDER BY id")
	require.NoError(t, err)
	vs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"-", "1", "two"}, vs)
}

// Check names what is wrong: no table, a missing column.
func TestPostgres_CheckNamesTheProblem(t *testing.T) {
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t, admin)
	pool := newPool(t, pgtest.DSN())
	cols := []postgres.Column{{Name: "id", Query: ".id"}, {Name: "missing", Query: ".m"}}
	s, err := postgres.New(pool, postgres.Config{Table: schema + ".nope", Columns: cols})
	require.NoError(t, err)
	require.ErrorContains(t, s.Check(t.Context()), "table does not exist")
	_, err = admin.Exec(t.Context(), fmt.Sprintf("CREATE TABLE %s.t (id bigint)", schema))
	require.NoError(t, err)
	s, err = postgres.New(pool, postgres.Config{Table: schema + ".t", Columns: cols})
	require.NoError(t, err)
	require.ErrorContains(t, s.Check(t.Context()), "has no column missing")
}

// Two writers of one shard (a lease moving between nodes) load the same
// batch, one row of which PostgreSQL refuses: every good row is loaded
// once, and neither writer fails.
func TestPostgres_TwoWritersOfAShard(t *testing.T) {
	admin := pgtest.Admin(t)
	table := pgtest.Schema(t, admin) + ".events"
	_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+" (id bigint CHECK (id <> 2))")
	require.NoError(t, err)
	cfg := postgres.Config{Table: table, Columns: []postgres.Column{{Name: "id", Query: ".id"}}}
	a, err := postgres.New(newPool(t, pgtest.DSN()), cfg)
	require.NoError(t, err)
	b, err := postgres.New(newPool(t, pgtest.DSN()), cfg)
	require.NoError(t, err)
	for round := range 10 {
		docs := []string{}
		for i := 1; i <= 3; i++ {
			docs = append(docs, fmt.Sprintf(`{"id":%d}`, round*10+i))
		}
		bt := batch(docs...)
		for i := range bt.Records {
			bt.Records[i].Seq = uint64(round*3 + i)
		}
		bt.First, bt.Last = uint64(round*3), uint64(round*3+2)
		errs := make(chan error, 2)
		for _, s := range []*postgres.Sink{a, b} {
			go func() { errs <- s.Write(t.Context(), bt) }()
		}
		for range 2 {
			if err := <-errs; err != nil && round == 0 {
				var be *sinks.BatchError
				require.True(t, errors.As(err, &be), "%v", err)
			} else if round > 0 {
				require.NoError(t, err)
			}
		}
	}
	var n, distinct int
	require.NoError(t, admin.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT id) FROM "+table).Scan(&n, &distinct))
	require.Equal(t, 29, n, "30 records, one refused")
	require.Equal(t, n, distinct)
}

// create_table and the checkpoint table need no more than a role that
// can create in its schema; a role with DML grants only loads into tables
// that exist. A table dropped under a create_table sink is made again.
func TestPostgres_LeastPrivilegeRoles(t *testing.T) {
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t, admin)
	suffix := strings.TrimPrefix(schema, "t_")
	creator, loader := "creator_"+suffix, "loader_"+suffix
	for _, r := range []string{creator, loader} {
		_, err := admin.Exec(t.Context(), "CREATE ROLE "+r+" LOGIN")
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = admin.Exec(context.Background(), "DROP OWNED BY "+r)
			_, _ = admin.Exec(context.Background(), "DROP ROLE "+r)
		})
	}
	_, err := admin.Exec(t.Context(), fmt.Sprintf("GRANT USAGE, CREATE ON SCHEMA %s TO %s; GRANT USAGE ON SCHEMA %s TO %s", schema, creator, schema, loader))
	require.NoError(t, err)
	asRole := func(role string) string {
		u, err := url.Parse(pgtest.DSN())
		require.NoError(t, err)
		u.User = url.User(role)
		return u.String()
	}
	cols := []postgres.Column{{Name: "id", Query: ".id", Type: "bigint"}}
	c, err := postgres.New(newPool(t, asRole(creator)), postgres.Config{Table: schema + ".made", Columns: cols, CreateTable: true})
	require.NoError(t, err)
	require.NoError(t, c.Write(t.Context(), batch(`{"id":1}`)))

	// The loader may only write the tables, the checkpoints included.
	_, err = admin.Exec(t.Context(), fmt.Sprintf("GRANT SELECT, INSERT, UPDATE ON %s.made, %s.hydrant_checkpoints TO %s", schema, schema, loader))
	require.NoError(t, err)
	l, err := postgres.New(newPool(t, asRole(loader)), postgres.Config{Table: schema + ".made", Columns: cols})
	require.NoError(t, err)
	b := batch(`{"id":1}`, `{"id":2}`)
	b.Shard = "shardId-000000000001"
	require.NoError(t, l.Write(t.Context(), b))

	// Dropped: the creator's next Writes make it again.
	_, err = admin.Exec(t.Context(), "DROP TABLE "+schema+".made")
	require.NoError(t, err)
	b = batch(`{"id":1}`, `{"id":2}`, `{"id":3}`)
	b.Shard = "shardId-000000000002"
	require.Eventually(t, func() bool { return c.Write(t.Context(), b) == nil }, 10*time.Second, 50*time.Millisecond)
	var n int
	require.NoError(t, admin.QueryRow(t.Context(), "SELECT count(*) FROM "+schema+".made").Scan(&n))
	require.Equal(t, 3, n)
}
