//go:build integration

package postgres_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/postgres"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// benchColumns maps the records of benchRecords (1 KiB of JSON, the shape
// of hydrant bench's records plus two fields) to six columns.
var benchColumns = []postgres.Column{
	{Name: "id", Query: ".id"}, {Name: "customer", Query: ".customer"}, {Name: "ts", Query: ".ts"},
	{Name: "at", Query: ".at"}, {Name: "amount", Query: ".amount"}, {Name: "pad", Query: ".pad"},
}

const benchTable = "(id bigint NOT NULL, customer text, ts bigint, at timestamptz, amount numeric(12,2), pad text)"

func benchRecords(n int, seq0 uint64) []record.Record {
	recs := make([]record.Record, n)
	now := time.Now().UnixMilli()
	for i := range recs {
		head := fmt.Sprintf(`{"id":%d,"customer":"c%d","ts":%d,"at":"%s","amount":%d.%02d,"pad":"`,
			int(seq0)+i, i%1000, now, time.UnixMilli(now).UTC().Format(time.RFC3339Nano), i%10000, i%100)
		recs[i] = record.Record{Seq: seq0 + uint64(i), Data: []byte(head + strings.Repeat("x", 1024-len(head)-2) + `"}`)}
	}
	return recs
}

// BenchmarkLoad compares the postgres sink (one COPY per flush, with the
// checkpoint row) with a multi-row INSERT loader (1,000 rows a statement,
// one transaction per flush) on the same table, at three flush sizes.
// rows/s is what counts: go test -tags integration -run '^$' -bench Load ./sinks/postgres/
func BenchmarkLoad(b *testing.B) {
	for _, flush := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("copy/flush=%d", flush), func(b *testing.B) { benchLoad(b, flush, false) })
		b.Run(fmt.Sprintf("insert/flush=%d", flush), func(b *testing.B) { benchLoad(b, flush, true) })
	}
}

func benchLoad(b *testing.B, flush int, insert bool) {
	admin := pgtest.Admin(b)
	table := pgtest.Schema(b, admin) + ".events"
	_, err := admin.Exec(b.Context(), "CREATE TABLE "+table+" "+benchTable)
	require.NoError(b, err)
	pool := newPool(b, pgtest.DSN())
	s, err := postgres.New(pool, postgres.Config{Table: table, Columns: benchColumns})
	require.NoError(b, err)
	// The INSERT loader gets pgx's default pool (statements cached per
	// connection), its fastest setting.
	insertPool, err := pgxpool.New(b.Context(), pgtest.DSN())
	require.NoError(b, err)
	b.Cleanup(insertPool.Close)
	require.NoError(b, err)
	recs := benchRecords(flush, 0)
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r.Data))
	}
	b.ResetTimer()
	seq := uint64(0)
	for b.Loop() {
		for i := range recs {
			recs[i].Seq = seq + uint64(i)
		}
		batch := &record.Batch{Pipeline: "bench", Destination: "db", Shard: "shardId-000000000000",
			First: seq, Last: seq + uint64(flush) - 1, Records: recs}
		if insert {
			insertLoad(b, insertPool, table, recs)
		} else {
			require.NoError(b, s.Write(b.Context(), batch))
		}
		seq += uint64(flush)
	}
	elapsed := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*flush)/elapsed, "rows/s")
	b.ReportMetric(float64(int64(b.N)*bytes)/elapsed/(1<<20), "MB/s")
}

// insertLoad is the comparison loader: the same six values per record
// (read with encoding/json, cheaper than the sink's jq), sent as
// multi-row INSERTs of 1,000 rows with parameters, in one transaction.
func insertLoad(b *testing.B, pool *pgxpool.Pool, table string, recs []record.Record) {
	const perStatement = 1_000
	err := pgx.BeginFunc(b.Context(), pool, func(tx pgx.Tx) error {
		for start := 0; start < len(recs); start += perStatement {
			part := recs[start:min(start+perStatement, len(recs))]
			var sql strings.Builder
			sql.WriteString("INSERT INTO " + table + " (id, customer, ts, at, amount, pad) VALUES ")
			args := make([]any, 0, 6*len(part))
			for i, r := range part {
				var doc struct {
					ID       int64       `json:"id"`
					Customer string      `json:"customer"`
					TS       int64       `json:"ts"`
					At       time.Time   `json:"at"`
					Amount   json.Number `json:"amount"`
					Pad      string      `json:"pad"`
				}
				if err := json.Unmarshal(r.Data, &doc); err != nil {
					return err
				}
				if i > 0 {
					sql.WriteString(", ")
				}
				n := len(args)
				fmt.Fprintf(&sql, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
				args = append(args, doc.ID, doc.Customer, doc.TS, doc.At, string(doc.Amount), doc.Pad)
			}
			if _, err := tx.Exec(b.Context(), sql.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(b, err)
}
