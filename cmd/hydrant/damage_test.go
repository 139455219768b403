package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue 11, finding 4: a corrupt byte in the log no longer stops delivery
// silently. The record it held is skipped, the rest is delivered, and the
// damage shows in the status API (every field documented), /readyz (ready,
// the destination degraded with the reason) and /metrics.
func TestDamage_SkippedDeliveredAndVisible(t *testing.T) {
	dir := t.TempDir()
	a := testApp(t, dir, `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    stream: { shards: 1 }
    destinations:
      - { name: lake, type: directory, store: local, buffer: { size: 1MiB, interval: 0s } }
`)
	h := a.handler()
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf(`{"i":%d}`, i))
	}
	putLines(t, h, "events", lines)

	segs, err := filepath.Glob(filepath.Join(dir, "data", "events", "shards", "*", "*.wal"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	b[20] ^= 0x40 // inside the first record's frame
	require.NoError(t, os.WriteFile(segs[0], b, 0o644))

	startDelivery(t, a)
	waitScrape(t, h, map[string]string{
		`hydrant_delivery_records_total{destination="lake",pipeline="events",type="directory"}`: "29",
		`hydrant_stream_damaged_regions_total{pipeline="events"}`:                               "1",
		`hydrant_stream_lost_records_total{pipeline="events"}`:                                  "1",
	})
	require.NotEqual(t, "0", scrape(t, h, `hydrant_stream_quarantined_bytes_total{pipeline="events"}`))

	st := a.status(a.pipelines[0])
	require.Equal(t, uint64(1), st.LogDamage.Regions)
	require.NotNil(t, st.LogDamage.Last)
	require.Equal(t, filepath.Base(segs[0]), st.LogDamage.Last.Segment)
	lake := st.Destinations[0]
	require.Equal(t, "degraded", lake.State)
	require.Contains(t, lake.StateReason, "1 damaged region(s) holding 1 acknowledged record(s)")
	require.Contains(t, lake.StateReason, filepath.Base(segs[0]))
	for _, b := range lake.Backlog {
		require.False(t, b.Oldest.Before(time.Unix(0, 0)) && b.Records > 0, "backlog age unknown: %+v", b)
	}

	// Every field, the damage's included, is documented.
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	fields, _ := walkKeys(t, getJSON(t, srv.URL+"/v1/pipelines/events"))
	requireDocumented(t, fields)
	for _, k := range []string{"log_damage", "damaged_regions", "last", "quarantine", "first_lost_seq", "state", "state_reason"} {
		require.True(t, fields[k], "the response has no %q", k)
	}

	// Still ready (records are taken), with the reason listed.
	require.Eventually(t, func() bool {
		report, err := a.ready(t.Context())
		return err == nil && strings.Contains(report, "events/lake: degraded: the stream log skipped 1 damaged region(s)")
	}, 20*time.Second, 50*time.Millisecond)
}
