package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// freeAddr returns a loopback address nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// server is one running hydrant process.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

// startServer runs `hydrant serve` with its output appended to logw and
// waits until /readyz answers 200.
func startServer(ctx context.Context, bin, cfg, addr string, logw io.Writer, limit time.Duration) (*server, error) {
	cmd := exec.Command(bin, "serve", "--config", cfg, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hydrant: %w", err)
	}
	s := &server{cmd: cmd, addr: addr, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(limit)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("hydrant exited during start: %v", err)
		default:
		}
		if code, _, err := s.readyz(ctx); err == nil && code == http.StatusOK {
			return s, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("hydrant not ready on %s within %s: %w", addr, limit, context.Cause(ctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pid is the server's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM and returns the exit error (nil for exit 0).
func (s *server) stop(limit time.Duration) error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("hydrant exit after SIGTERM: %w", err)
		}
		return nil
	case <-time.After(limit):
		s.kill()
		return fmt.Errorf("hydrant did not exit within %s of SIGTERM", limit)
	}
}

// readyz returns /readyz's status code and body.
func (s *server) readyz(ctx context.Context) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/readyz", nil)
	if err != nil {
		return 0, "", fmt.Errorf("readyz request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("readyz: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// pipelineStatus is the part of GET /v1/pipelines/{name} the soak reads.
type pipelineStatus struct {
	Incoming struct {
		Records int64 `json:"records"`
	} `json:"incoming"`
	Destinations []struct {
		Name    string `json:"name"`
		Backlog []struct {
			Records int64 `json:"records"`
		} `json:"backlog"`
		Stats struct {
			DeliveredRecords int64            `json:"delivered_records"`
			FailedAttempts   int64            `json:"failed_attempts"`
			BackedUp         map[string]int64 `json:"backed_up_records"`
		} `json:"stats"`
	} `json:"destinations"`
}

// pending is the records every destination still has to commit.
func (p pipelineStatus) pending() int64 {
	var n int64
	for _, d := range p.Destinations {
		for _, b := range d.Backlog {
			n += b.Records
		}
	}
	return n
}

// status reads GET /v1/pipelines/{name}.
func (s *server) status(ctx context.Context, name string) (pipelineStatus, error) {
	var st pipelineStatus
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/v1/pipelines/"+name, nil)
	if err != nil {
		return st, fmt.Errorf("status request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("status: decode: %w", err)
	}
	return st, nil
}

// procSample is what /proc tells about a process.
type procSample struct {
	hwmKiB int64 // VmHWM: peak resident set
	rssKiB int64 // VmRSS
	fds    int
}

// sampleProc reads /proc/<pid>/status and counts /proc/<pid>/fd.
func sampleProc(pid int) (procSample, error) {
	var p procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, fmt.Errorf("read proc status: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			p.hwmKiB = n
		case "VmRSS":
			p.rssKiB = n
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return p, fmt.Errorf("read proc fds: %w", err)
	}
	p.fds = len(ents)
	return p, nil
}

// peaks keeps the maxima of the samples over every server process.
type peaks struct {
	hwmKiB int64
	fds    int
}

func (p *peaks) add(s procSample) {
	p.hwmKiB = max(p.hwmKiB, s.hwmKiB)
	p.fds = max(p.fds, s.fds)
}

// watchProc samples pid every interval into p (guarded by the caller's
// single goroutine: it returns when ctx ends, after the last sample).
func watchProc(ctx context.Context, pid int, every time.Duration) peaks {
	var p peaks
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if s, err := sampleProc(pid); err == nil {
			p.add(s)
		}
		select {
		case <-ctx.Done():
			return p
		case <-t.C:
		}
	}
}
