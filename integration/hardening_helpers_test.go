//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// noraceBinary is hydrant built without -race, for the tests that measure
// the process' memory (the race detector multiplies it).
var (
	noraceOnce sync.Once
	noracePath string
	noraceErr  error
)

func noraceBinary(t *testing.T) string {
	t.Helper()
	noraceOnce.Do(func() {
		noracePath = filepath.Join(filepath.Dir(binary), "hydrant-norace")
		out, err := exec.Command("go", "build", "-o", noracePath, "../cmd/hydrant").CombinedOutput()
		if err != nil {
			noraceErr = fmt.Errorf("build hydrant without -race: %v\n%s", err, out)
		}
	})
	require.NoError(t, noraceErr)
	return noracePath
}

// lockedBuffer is a bytes.Buffer the process' output goroutine writes while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one running hydrant process started by startHydrant.
type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedBuffer
	done chan error
}

// startHydrant runs `bin serve --config cfg --log-format json args...` and
// waits for /readyz; the process is killed at cleanup.
func startHydrant(t *testing.T, bin, cfg, addr string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--config", cfg, "--log-format", "json"}, args...)...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, addr: addr, logs: logs, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	waitFor(t, 60*time.Second, "server ready on "+addr, func() bool {
		p.requireRunning(t)
		return p.readyz() == http.StatusOK
	})
	return p
}

// requireRunning fails the test if the process has exited.
func (p *proc) requireRunning(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		t.Fatalf("server exited: %v\n%s", err, p.logs.String())
	default:
	}
}

// readyz returns the status of GET /readyz, or 0 when the request fails.
func (p *proc) readyz() int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.addr + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// peakRSS is the process' peak resident set size (VmHWM), in bytes.
func (p *proc) peakRSS(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err, line)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
	return 0
}

// writeHydrantConfig writes body (a whole configuration) to dir/hydrant.yaml.
func writeHydrantConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "hydrant.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	return path
}

// do sends req and returns the answer with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// newRequest is http.NewRequest that fails the test on error.
func newRequest(t *testing.T, method, url string, body io.Reader, header map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// requireErrorShape checks a refusal: the status and the common error shape
// {"__type": typ, "message": ...}, the type also in X-Amzn-ErrorType.
func requireErrorShape(t *testing.T, resp *http.Response, body []byte, status int, typ string) {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, string(body))
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Equal(t, typ, e.Type, string(body))
	require.NotEmpty(t, e.Message, string(body))
	require.Contains(t, resp.Header.Get("X-Amzn-ErrorType"), typ)
}

// requireExactlyLines waits until every line of want has been delivered
// under root, then requires that nothing else was and that each came once.
func requireExactlyLines(t *testing.T, root string, want []string) {
	t.Helper()
	set := map[string]bool{}
	for _, l := range want {
		set[l] = true
	}
	seen := waitLines(t, root, set)
	for _, l := range want {
		require.Equal(t, 1, seen[l], "record %s delivered %d times", l, seen[l])
	}
	require.Len(t, seen, len(want), "nothing but the accepted records is delivered")
}

// isClosed reports whether err from reading a connection means the peer
// closed it (EOF or reset), as opposed to our own read deadline.
func isClosed(err error) bool {
	if err == nil || errors.Is(err, io.EOF) {
		return true
	}
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// allocatedBytes is the process' Go heap allocated since start, in bytes
// (go_memstats_alloc_bytes_total on an open /metrics). Unlike RSS it counts
// an allocation whose pages are never touched, such as a buffer sized from
// an announcement and never filled.
func (p *proc) allocatedBytes(t *testing.T) float64 {
	t.Helper()
	resp, body := do(t, newRequest(t, http.MethodGet, "http://"+p.addr+"/metrics", nil, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	for line := range strings.SplitSeq(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "go_memstats_alloc_bytes_total "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, line)
			return v
		}
	}
	t.Fatal("no go_memstats_alloc_bytes_total in /metrics")
	return 0
}
