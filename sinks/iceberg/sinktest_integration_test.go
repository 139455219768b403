//go:build integration

package iceberg_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/iceberg"
	"github.com/hydrant-io/hydrant/sinks/iceberg/icetest"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// The iceberg sink against the real catalog (iceberg-go's SQL catalog on
// the test PostgreSQL) and a warehouse on the test MinIO, both reached
// through proxies that Break cuts. Rows are read back by iceberg-go's own
// table scan (icetest.Rows), which shares no code with the writer's
// Parquet encoder.
func TestSinktest_Iceberg(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			w := icetest.NewWarehouse(t)
			pg := sinktest.NewProxy(t, pgtest.HostPort(t))
			s3 := sinktest.NewProxy(t, w.S3HostPort())
			table := w.Namespace(t) + ".events"
			s, err := iceberg.New(w.Catalog(t, pgtest.Via(t, pg.Addr()), s3.Addr()), iceberg.Config{Table: table, Schema: icetest.PayloadSchema(t)})
			require.NoError(t, err)
			return &sinktest.Target{
				Sink: s,
				Read: func(t *testing.T) []sinktest.Delivered { return w.Payloads(t, table) },
				Break: func(t *testing.T) func() {
					restorePG, restoreS3 := pg.Break(t), s3.Break(t)
					return func() { restorePG(); restoreS3() }
				},
			}
		},
		// A value that does not fit its column fails alone.
		Bad: func(r *record.Record) {
			r.Data = fmt.Appendf(nil, `{"id":%q,"shard":%q,"seq":"not a number","sub":%d}`, r.ID, r.Shard, r.Sub)
		},
		BadType: record.FormatConversionFailed,
		// The table exists with a column of another type than the
		// schema file's: no retry fixes that.
		Misconfigured: func(t *testing.T) sinks.Sink {
			w := icetest.NewWarehouse(t)
			table := w.Namespace(t) + ".events"
			w.CreateTable(t, table, "columns:\n  - { name: id, type: int64 }\n")
			s, err := iceberg.New(w.Catalog(t, pgtest.DSN(), w.S3HostPort()), iceberg.Config{Table: table, Schema: icetest.PayloadSchema(t)})
			require.NoError(t, err)
			return s
		},
		ExactlyOnce: true,
	})
}
