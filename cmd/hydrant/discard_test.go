package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/discard"
)

// The discard destination is one package and one case in newSink: it runs
// in a pipeline like any sink, counted by the same metrics.
func TestDiscard_DestinationCountsWhatWasSent(t *testing.T) {
	a := testApp(t, t.TempDir(), `server: { data_dir: %[1]s }
pipelines:
  - name: events
    stream: { shards: 2 }
    destinations:
      - { name: void, type: discard, buffer: { size: 1MiB, interval: 0s } }
`)
	startDelivery(t, a)
	h := a.handler()
	lines := make([]string, 300)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	putLines(t, h, "events", lines)
	waitScrape(t, h, map[string]string{`hydrant_delivery_records_total{destination="void",pipeline="events",type="discard"}`: "300"})
	records, _ := a.byName["events"].destinations[0].Sink.(*discard.Sink).Stats()
	require.EqualValues(t, 300, records)
}
