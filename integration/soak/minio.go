package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The soak's own MinIO uses the fixed test credentials of
// scripts/services.sh.
const (
	minioUser     = "minioadmin"
	minioPassword = "minioadmin"
)

// minioServer is the soak's private MinIO process: same binary and
// command line as scripts/services.sh, other ports and a data directory
// of its own, so that stopping it disturbs nobody else.
type minioServer struct {
	bin, dir, addr, console string
	logw                    io.Writer
	cmd                     *exec.Cmd
	done                    chan error
}

func newMinio(bin, dir string, logw io.Writer) (*minioServer, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("minio binary (run scripts/services.sh up to build it): %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return &minioServer{bin: bin, dir: dir, addr: addr, console: console, logw: logw}, nil
}

// endpoint is the S3 URL.
func (m *minioServer) endpoint() string { return "http://" + m.addr }

// start runs MinIO and waits until it is ready.
func (m *minioServer) start(ctx context.Context, limit time.Duration) error {
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", m.addr, "--console-address", m.console, m.dir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = m.logw, m.logw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start minio: %w", err)
	}
	m.cmd, m.done = cmd, make(chan error, 1)
	go func() { m.done <- cmd.Wait() }()
	deadline := time.Now().Add(limit)
	for !m.ready(ctx) {
		select {
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("minio exited during start: %v", err)
		default:
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			m.stop()
			return fmt.Errorf("minio not ready on %s within %s", m.addr, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func (m *minioServer) ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint()+"/minio/health/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM (SIGKILL after 10 s), as scripts/services.sh does,
// and waits for the process to be gone.
func (m *minioServer) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.done
	}
	m.cmd = nil
}

// client returns a minio-go client of this server.
func (m *minioServer) client() (*minio.Client, error) {
	c, err := minio.New(m.addr, &minio.Options{
		Creds:        credentials.NewStaticV4(minioUser, minioPassword, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("minio client: %w", err)
	}
	return c, nil
}
