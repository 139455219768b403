//go:build integration

package iceberg_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/sinks/iceberg"
	"github.com/hydrant-io/hydrant/sinks/iceberg/icetest"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// benchSchema is hydrant bench's 1 KiB record (see sinks/postgres's
// benchmark) as an Iceberg table.
const benchSchema = `columns:
  - { name: id, type: int64 }
  - { name: customer, type: string }
  - { name: ts, type: int64 }
  - { name: at, type: timestamp }
  - { name: amount, type: "decimal(12,2)" }
  - { name: pad, type: string }
`

func benchRecords(n int) []record.Record {
	recs := make([]record.Record, n)
	now := time.Now().UnixMilli()
	for i := range recs {
		head := fmt.Sprintf(`{"id":%d,"customer":"c%d","ts":%d,"at":"%s","amount":%d.%02d,"pad":"`,
			i, i%1000, now, time.UnixMilli(now).UTC().Format(time.RFC3339Nano), i%10000, i%100)
		recs[i] = record.Record{Data: []byte(head + strings.Repeat("x", 1024-len(head)-2) + `"}`)}
	}
	return recs
}

// BenchmarkWrite is the iceberg sink alone, one flush per iteration
// (convert to Parquet, write the data file to MinIO, commit a snapshot
// through the SQL catalog on PostgreSQL), at three flush sizes:
//
//	go test -tags integration -run '^$' -bench Write -benchtime 5x ./sinks/iceberg/
func BenchmarkWrite(b *testing.B) {
	for _, flush := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("flush=%d", flush), func(b *testing.B) {
			pgtest.Admin(b)
			w := icetest.NewWarehouse(b)
			schema, err := columnar.ParseSchema("bench.yaml", []byte(benchSchema))
			require.NoError(b, err)
			s, err := iceberg.New(w.Catalog(b, pgtest.DSN(), w.S3HostPort()), iceberg.Config{Table: w.Namespace(b) + ".events", Schema: schema})
			require.NoError(b, err)
			recs := benchRecords(flush)
			var bytes int64
			for _, r := range recs {
				bytes += int64(len(r.Data))
			}
			seq := uint64(0)
			start := time.Now()
			for b.Loop() {
				for i := range recs {
					recs[i].Seq = seq + uint64(i)
				}
				batch := &record.Batch{Pipeline: "bench", Destination: "lake", Shard: "shardId-000000000000",
					First: seq, Last: seq + uint64(flush) - 1, Records: recs}
				require.NoError(b, s.Write(b.Context(), batch))
				seq += uint64(flush)
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N*flush)/secs, "rows/s")
			b.ReportMetric(float64(b.N)/secs, "commits/s")
			b.ReportMetric(float64(int64(b.N)*bytes)/secs/(1<<20), "MiB/s")
		})
	}
}
