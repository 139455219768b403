//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// browser starts Debian's headless chromium under chromedp; the context
// lives as long as the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	require.NoError(t, err, "Debian's chromium is needed (scripts/services.sh up installs it)")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// pageMetrics reads the data-value of every data-metric element named in
// names, as the page shows them now.
func pageMetrics(t *testing.T, ctx context.Context, names ...string) map[string]string {
	t.Helper()
	js := `(names => Object.fromEntries(names.map(n => {
		const el = document.querySelector('[data-metric="' + n + '"]');
		return [n, el && el.dataset.value !== undefined ? el.dataset.value : ""];
	})))(` + mustJSON(t, names) + `)`
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](js))
	require.NoError(t, err)
	return got
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// pipelineStats is what /v1/pipelines/{name} reports for the pipeline's
// ingest and its first destination.
func pipelineStats(t *testing.T, addr, name string) (incoming, delivered int64) {
	t.Helper()
	st := getPipeline(t, addr, name)
	return st.Incoming.Records, st.Destinations[0].Stats.DeliveredRecords
}

// The dashboard is loaded once; records are then sent in rounds. After each
// round the page itself (no reload) must show the new count, a positive
// rate while records flow, and in the end the counts /v1/pipelines reports.
func TestUI_NumbersMoveLiveAndMatchThePipelineAPI(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startServer(t, writeConfig(t, dir, addr, "        buffer: { size: 1MiB, interval: 0s }\n"), addr)
	ctx := browser(t)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate("http://"+addr+"/ui"),
		chromedp.WaitVisible(`[data-metric="connection"][data-value="live"]`),
		// A marker that a reload would wipe out.
		chromedp.Evaluate[chromedp.Void](`window.hydrantTestMarker = 42; undefined`),
	))

	const rounds, perRound = 4, 300
	sent, sawRate := 0, false
	for round := range rounds {
		lines := make([]string, perRound)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"round":%d,"n":%d}`, round, i)
		}
		sendLines(t, addr, "events", lines)
		sent += perRound
		waitFor(t, 30*time.Second, fmt.Sprintf("the page to show %d records written", sent), func() bool {
			m := pageMetrics(t, ctx, "incoming-records", "incoming-records-per-sec")
			if rate, err := strconv.ParseFloat(m["incoming-records-per-sec"], 64); err == nil && rate > 0 {
				sawRate = true
			}
			return m["incoming-records"] == strconv.Itoa(sent)
		})
	}
	require.True(t, sawRate, "the incoming rate rose above zero while records flowed")

	waitFor(t, time.Minute, "delivery of every record", func() bool {
		_, delivered := pipelineStats(t, addr, "events")
		return delivered == int64(sent)
	})
	incoming, delivered := pipelineStats(t, addr, "events")
	waitFor(t, 30*time.Second, "the page to show the delivered count", func() bool {
		return pageMetrics(t, ctx, "delivered-records")["delivered-records"] == strconv.FormatInt(delivered, 10)
	})
	m := pageMetrics(t, ctx, "incoming-records", "delivered-records", "connection", "failure-count")
	require.Equal(t, strconv.FormatInt(incoming, 10), m["incoming-records"], "the page's count is the API's")
	require.Equal(t, strconv.FormatInt(delivered, 10), m["delivered-records"])
	require.Equal(t, "live", m["connection"])

	marker, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.hydrantTestMarker || 0`))
	require.NoError(t, err)
	require.Equal(t, 42, marker, "the page updated itself without a reload")

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG
	require.NoError(t, err)
	require.NotEmpty(t, png)
	shot := filepath.Join(t.ArtifactDir(), "ui.png")
	require.NoError(t, os.WriteFile(shot, png, 0o644))
	t.Logf("screenshot: %s (kept with go test -artifacts)", shot)
	require.NoError(t, srv.stop())
}

// The page fits a phone's width: nothing overflows horizontally at 390 px.
func TestUI_FitsAPhoneWidth(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startServer(t, writeConfig(t, dir, addr, ""), addr)
	ctx := browser(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate("http://"+addr+"/ui"),
		chromedp.WaitVisible(`[data-metric="connection"][data-value="live"]`),
	))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	require.NoError(t, err)
	require.False(t, overflow, "the dashboard scrolls sideways at phone width")
	require.NoError(t, srv.stop())
}
