//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromium renders url headless, letting the page's scripts run for
// budget of virtual time, and returns the resulting DOM; it also saves a
// screenshot to shot.
func chromium(t *testing.T, url, shot string, budget time.Duration) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	require.NoError(t, err, "Debian's chromium is needed (scripts/services.sh up installs it)")
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--window-size=1280,1000", "--virtual-time-budget=" + strconv.Itoa(int(budget.Milliseconds()))}
	out, err := exec.Command(bin, append(flags, "--dump-dom", url)...).Output()
	require.NoError(t, err, "chromium --dump-dom")
	require.NoError(t, exec.Command(bin, append(flags, "--screenshot="+shot, url)...).Run(), "chromium --screenshot")
	return string(out)
}

// metricValue finds data-value of the element with data-metric=name.
func metricValue(dom, name string) (string, bool) {
	re := regexp.MustCompile(`<[^>]*data-metric="` + regexp.QuoteMeta(name) + `"[^>]*>`)
	tag := re.FindString(dom)
	if tag == "" {
		return "", false
	}
	m := regexp.MustCompile(`data-value="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func TestUI_DashboardShowsWhatThePipelineAPIReports(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startServer(t, writeConfig(t, dir, addr, "        buffer: { size: 1MiB, interval: 0s }\n"), addr)
	var lines []string
	for i := range 1500 {
		lines = append(lines, fmt.Sprintf(`{"n":%d}`, i))
	}
	sendLines(t, addr, "events", lines)

	var delivered int64
	waitFor(t, time.Minute, "delivery", func() bool {
		resp, err := http.Get("http://" + addr + "/v1/pipelines/events")
		require.NoError(t, err)
		defer resp.Body.Close()
		var st struct {
			Destinations []struct {
				Stats struct{ DeliveredRecords int64 } `json:"stats"`
			} `json:"destinations"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		delivered = st.Destinations[0].Stats.DeliveredRecords
		return delivered == 1500
	})

	out := filepath.Join(os.TempDir(), "hydrant-ui-test")
	require.NoError(t, os.MkdirAll(out, 0o755))
	shot := filepath.Join(out, "ui.png")
	dom := chromium(t, "http://"+addr+"/ui", shot, 4*time.Second)
	t.Logf("screenshot: %s", shot)

	state, ok := metricValue(dom, "connection")
	require.True(t, ok, "the page marks its connection state")
	require.Equal(t, "live", state, "the page fetched /v1/pipelines")
	got, ok := metricValue(dom, "delivered-records")
	require.True(t, ok, "the page shows delivered records")
	require.Equal(t, strconv.FormatInt(delivered, 10), got, "the number on the page is the API's")
	written, ok := metricValue(dom, "incoming-records")
	require.True(t, ok)
	require.Equal(t, "1500", written)
	fi, err := os.Stat(shot)
	require.NoError(t, err)
	require.Positive(t, fi.Size())
	require.NoError(t, srv.stop())
}
