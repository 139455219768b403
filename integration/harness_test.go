//go:build integration

// Package integration holds end-to-end tests that build the hydrant binary,
// run it as a real process, and talk to it (and to real services) over the
// network. Run with `make integration` or `go test -tags integration ./integration/...`.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binary is the hydrant binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hydrant-it-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "hydrant")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/hydrant")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hydrant:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// server is one running hydrant process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	done chan error
	logs *bytes.Buffer
}

// startServer runs `hydrant serve --config cfg` and waits for /readyz.
func startServer(t *testing.T, cfg, addr string) *server {
	t.Helper()
	return startServerWithin(t, cfg, addr, 30*time.Second)
}

// startServerWithin is startServer for servers that take longer to start
// (the race-instrumented binary compiling wasm modules).
func startServerWithin(t *testing.T, cfg, addr string, limit time.Duration) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", cfg, "--log-format", "json")
	// One writer for both pipes: exec then serialises the writes.
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	s := &server{t: t, cmd: cmd, addr: addr, done: make(chan error, 1), logs: logs}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	waitFor(t, limit, "server ready on "+addr, func() bool {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("server exited during start: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// stop sends SIGTERM and returns the exit error (nil for exit 0).
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(60 * time.Second):
		s.kill()
		return fmt.Errorf("server did not exit within 60s of SIGTERM")
	}
}

// waitFor polls cond until it holds; it fails the test after limit so that a
// broken build cannot hang CI. It asserts nothing about speed.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeConfig writes a pipeline file for a directory-sink pipeline.
func writeConfig(t *testing.T, dir, addr string, extra string) string {
	t.Helper()
	return writePipelines(t, dir, addr, `  - name: events
    stream: { shards: 2 }
    processors:
      - type: append_delimiter
    destinations:
      - name: lake
        type: directory
        store: local
`+extra)
}

// writePipelines writes a pipeline file with a "local" directory store at
// dir/lake; pipelines is the body of its pipelines: section.
func writePipelines(t *testing.T, dir, addr, pipelines string) string {
	t.Helper()
	cfg := fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  local: { type: directory, path: %s }
pipelines:
%s`, addr, filepath.Join(dir, "data"), filepath.Join(dir, "lake"), pipelines)
	path := filepath.Join(dir, "hydrant.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path
}

// pipelineStatus is the part of GET /v1/pipelines/{name} the tests read.
type pipelineStatus struct {
	Incoming struct {
		Records int64 `json:"records"`
	} `json:"incoming"`
	Destinations []struct {
		Name  string `json:"name"`
		Stats struct {
			DeliveredRecords int64 `json:"delivered_records"`
		} `json:"stats"`
	} `json:"destinations"`
}

func getPipeline(t *testing.T, addr, name string) pipelineStatus {
	t.Helper()
	var st pipelineStatus
	getJSONInto(t, "http://"+addr+"/v1/pipelines/"+name, &st)
	return st
}

// getJSONInto GETs url, requires 200 and decodes the body into v.
func getJSONInto(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// delivered returns the delivered records by destination.
func (s pipelineStatus) delivered() map[string]int64 {
	out := map[string]int64{}
	for _, d := range s.Destinations {
		out[d.Name] = d.Stats.DeliveredRecords
	}
	return out
}

// lakeObject is one delivered object.
type lakeObject struct {
	Key   string
	Lines [][]byte
}

// readLake returns every complete object under root (temp files excluded).
func readLake(t *testing.T, root string) []lakeObject {
	t.Helper()
	var objs []lakeObject
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		obj := lakeObject{Key: filepath.ToSlash(rel)}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 1<<20), 8<<20)
		for sc.Scan() {
			obj.Lines = append(obj.Lines, append([]byte(nil), sc.Bytes()...))
		}
		require.NoError(t, sc.Err())
		objs = append(objs, obj)
		return nil
	})
	require.NoError(t, err)
	return objs
}

// countLines maps each delivered line to how often it was delivered.
func countLines(t *testing.T, root string) map[string]int {
	seen := map[string]int{}
	for _, o := range readLake(t, root) {
		for _, l := range o.Lines {
			seen[string(l)]++
		}
	}
	return seen
}

// waitLines waits until every line of want is in the objects under root
// and returns how often each delivered line was delivered.
func waitLines[V any](t *testing.T, root string, want map[string]V) map[string]int {
	t.Helper()
	var seen map[string]int
	waitFor(t, 2*time.Minute, "every wanted record under "+root, func() bool {
		seen = countLines(t, root)
		for l := range want {
			if seen[l] == 0 {
				return false
			}
		}
		return true
	})
	return seen
}

// putNDJSON sends records through the plain batch door.
func putNDJSON(ctx context.Context, addr, stream string, lines []string) (*http.Response, []byte, error) {
	body := strings.Join(lines, "\n") + "\n"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+"/v1/streams/"+stream+"/records", strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes(), err
}
