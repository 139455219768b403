package wasm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// TestExamples runs the example modules of examples/wasm, built with the
// standard toolchain, through the host.
func TestExamples(t *testing.T) {
	at := time.Date(2024, 3, 9, 17, 4, 5, 0, time.UTC)
	mk := func(data ...string) []record.Record {
		in := make([]record.Record, len(data))
		for i, d := range data {
			in[i] = record.Record{ID: record.NewID(3, 0, uint64(i)), Data: []byte(d), Arrived: at, Shard: "shardId-000000000000", Seq: uint64(i)}
		}
		return in
	}
	t.Run("redact", func(t *testing.T) {
		p := newProc(t, "redact")
		res, err := p.Process(t.Context(), mk(`{"email":"ann@example.com","n":1}`, `not json`))
		require.NoError(t, err)
		require.Equal(t, transform.Ok, res[0].Status)
		require.Equal(t, `{"email":"***************","n":1}`, string(res[0].Out[0].Data))
		require.Equal(t, transform.Failed, res[1].Status)
		require.ErrorContains(t, res[1].Err, "not a JSON object")
	})
	t.Run("enrich", func(t *testing.T) {
		p := newProc(t, "enrich")
		in := mk(`{"customer_id":"c-9","type":"click"}`)
		res, err := p.Process(t.Context(), in)
		require.NoError(t, err)
		require.Equal(t, transform.Ok, res[0].Status, "%v", res[0].Err)
		out := res[0].Out[0]
		require.Equal(t, in[0].Data, out.Data)
		require.Equal(t, "c-9", out.Meta[record.LambdaKey("customer_id")])
		require.Equal(t, "click", out.Meta[record.LambdaKey("event_type")])
		require.Equal(t, "2024-03-09", out.Meta[record.LambdaKey("date")])
		require.Equal(t, "17", out.Meta[record.LambdaKey("hour")])
	})
	t.Run("filter", func(t *testing.T) {
		p := newProc(t, "filter")
		res, err := p.Process(t.Context(), mk(`{"type":"heartbeat"}`, `{"type":"click"}`, ``))
		require.NoError(t, err)
		require.Equal(t, []transform.Status{transform.Dropped, transform.Ok, transform.Dropped},
			[]transform.Status{res[0].Status, res[1].Status, res[2].Status})
	})
}
