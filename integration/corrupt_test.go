//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Issue 11, findings 4 and 5, through the binary: acknowledged records sit
// in the log of a killed server, one byte is then flipped in the sealed
// segment and one in the active one. The restarted server keeps and
// delivers every valid record, skips the two damaged ones, stays ready and
// shows the destination degraded on /readyz, /metrics, the status API and
// the dashboard.
func TestCorruption_ValidRecordsDeliveredDamageVisible(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	pipeline := func(buffer string) string {
		return writePipelines(t, dir, addr, `  - name: events
    stream: { shards: 1 }
    processors:
      - type: append_delimiter
    destinations:
      - name: lake
        type: directory
        store: local
        buffer: `+buffer+`
`)
	}
	// Nothing is delivered while the records are written: the buffer waits.
	srv := startServer(t, pipeline("{ size: 128MiB, interval: 900s }"), addr)
	pad := strings.Repeat("x", 10_000)
	sent := map[string]bool{}
	batch := func(from, n int) {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"n":%d,"pad":"%s"}`, from+i, pad)
			sent[lines[i]] = true
		}
		sendLines(t, addr, "events", lines)
	}
	// Just past one 64 MiB segment, then a few small group commits in the
	// active one.
	const big = 6_800
	for from := 0; from < big; from += 100 {
		batch(from, 100)
	}
	for i := range 5 {
		batch(big+i*10, 10)
	}
	srv.kill()

	segs, err := filepath.Glob(filepath.Join(dir, "data", "events", "shards", "*", "*.wal"))
	require.NoError(t, err)
	require.Len(t, segs, 2, "one sealed segment and the active one")
	flip := func(path string, at int64) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		require.NoError(t, err)
		defer f.Close()
		b := make([]byte, 1)
		_, err = f.ReadAt(b, at)
		require.NoError(t, err)
		b[0] ^= 0x40
		_, err = f.WriteAt(b, at)
		require.NoError(t, err)
	}
	flip(segs[0], 32<<20) // the middle of the sealed segment
	st, err := os.Stat(segs[1])
	require.NoError(t, err)
	flip(segs[1], st.Size()/2) // the middle of the active segment

	srv = startServer(t, pipeline("{ size: 1MiB, interval: 0s }"), addr)
	var status struct {
		LogDamage struct {
			Regions     int64 `json:"damaged_regions"`
			LostRecords int64 `json:"lost_records"`
		} `json:"log_damage"`
		Destinations []struct {
			State       string `json:"state"`
			StateReason string `json:"state_reason"`
			Stats       struct {
				DeliveredRecords int64 `json:"delivered_records"`
			} `json:"stats"`
		} `json:"destinations"`
	}
	waitFor(t, 3*time.Minute, "every valid record delivered", func() bool {
		getJSONInto(t, "http://"+addr+"/v1/pipelines/events", &status)
		return status.LogDamage.Regions == 2 &&
			status.Destinations[0].Stats.DeliveredRecords+status.LogDamage.LostRecords == int64(len(sent))
	})
	lost := status.LogDamage.LostRecords
	require.Positive(t, lost)
	require.Less(t, lost, int64(10), "only the damaged frames are lost")
	seen := countLines(t, filepath.Join(dir, "lake"))
	missing := 0
	for l := range sent {
		if seen[l] == 0 {
			missing++
		}
	}
	for l, n := range seen {
		require.True(t, sent[l], "delivered a line never sent: %.60s", l)
		require.Equal(t, 1, n, "delivered twice: %.60s", l)
	}
	require.Equal(t, int(lost), missing, "exactly the records of the damaged frames are missing")

	dest := status.Destinations[0]
	require.Equal(t, "degraded", dest.State)
	require.Contains(t, dest.StateReason, "2 damaged region(s)")
	q, err := filepath.Glob(filepath.Join(filepath.Dir(segs[0]), "quarantine", "*.bin"))
	require.NoError(t, err)
	require.Len(t, q, 2, "a copy of each damaged region")

	// Ready (records are still taken), with the reason; and the counters.
	waitFor(t, 30*time.Second, "/readyz to list the destination degraded", func() bool {
		code, body := getText(t, "http://"+addr+"/readyz")
		return code == http.StatusOK && strings.Contains(body, "events/lake: degraded: the stream log skipped 2 damaged region(s)")
	})
	_, metrics := getText(t, "http://"+addr+"/metrics")
	require.Contains(t, metrics, `hydrant_stream_damaged_regions_total{pipeline="events"} 2`)
	require.Contains(t, metrics, `hydrant_stream_lost_records_total{pipeline="events"} `+strconv.FormatInt(lost, 10))

	// The dashboard shows the badge and the reason.
	ctx := browser(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate("http://"+addr+"/ui"),
		chromedp.WaitVisible(`[data-metric="state"][data-value="degraded"]`),
	))
	m := pageMetrics(t, ctx, "state-reason")
	require.Equal(t, dest.StateReason, m["state-reason"])
	require.NoError(t, srv.stop())
}

// getText GETs url and returns the status and body.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
