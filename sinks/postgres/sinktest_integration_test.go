//go:build integration

package postgres_test

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/postgres"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// payloadColumns maps sinktest.Payload's fields to columns.
var payloadColumns = []postgres.Column{
	{Name: "id", Query: ".id"}, {Name: "shard", Query: ".shard"}, {Name: "seq", Query: ".seq"},
	{Name: "sub", Query: ".sub"}, {Name: "body", Query: ".body"},
}

// The postgres sink against the test PostgreSQL, one fresh schema per
// subtest, reached through a sinktest.Proxy that Break cuts. Rows are
// read back with SQL of the test's own.
func TestSinktest_Postgres(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			admin := pgtest.Admin(t)
			table := pgtest.Schema(t, admin) + ".events"
			_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+` (id text NOT NULL, shard text NOT NULL, seq bigint NOT NULL, sub integer NOT NULL, body text)`)
			require.NoError(t, err)
			proxy := sinktest.NewProxy(t, pgtest.HostPort(t))
			s, err := postgres.New(newPool(t, pgtest.Via(t, proxy.Addr())), postgres.Config{Table: table, Columns: payloadColumns})
			require.NoError(t, err)
			return &sinktest.Target{
				Sink:  s,
				Read:  func(t *testing.T) []sinktest.Delivered { return readTable(t, admin, table) },
				Break: proxy.Break,
			}
		},
		// A value that does not fit its column fails alone.
		Bad: func(r *record.Record) {
			r.Data = fmt.Appendf(nil, `{"id":%q,"shard":%q,"seq":"not a number","sub":%d}`, r.ID, r.Shard, r.Sub)
		},
		BadType: record.PostgresFailed,
		// A mapped column of a type values are never converted to.
		Misconfigured: func(t *testing.T) sinks.Sink {
			admin := pgtest.Admin(t)
			table := pgtest.Schema(t, admin) + ".events"
			_, err := admin.Exec(t.Context(), "CREATE TABLE "+table+` (id text, shard text, seq bigint, sub integer, body point)`)
			require.NoError(t, err)
			s, err := postgres.New(newPool(t, pgtest.DSN()), postgres.Config{Table: table, Columns: payloadColumns})
			require.NoError(t, err)
			return s
		},
		ExactlyOnce: true,
	})
}

// readTable returns every row of table as the JSON document it came from.
func readTable(t *testing.T, admin *pgxpool.Pool, table string) []sinktest.Delivered {
	t.Helper()
	rows, err := admin.Query(t.Context(), `SELECT json_build_object('id', id, 'shard', shard, 'seq', seq, 'sub', sub, 'body', body)::text FROM `+table)
	require.NoError(t, err)
	docs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := make([]sinktest.Delivered, len(docs))
	for i, d := range docs {
		out[i] = sinktest.Delivered{Data: []byte(d), Where: table}
	}
	return out
}

// newPool opens a pool as a postgres store does, closed with the test.
func newPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := postgres.NewPool(dsn)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}
