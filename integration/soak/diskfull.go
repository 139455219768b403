package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// mountTmpfs mounts a tmpfs of size on dir (root only).
func mountTmpfs(ctx context.Context, dir, size string) error {
	out, err := exec.CommandContext(ctx, "mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w: %s", dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unmount lazily unmounts dir.
func unmount(dir string) error {
	out, err := exec.Command("umount", "-l", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("umount %s: %w: %s", dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// fill writes path until the file system reports ENOSPC (in 1 MiB, then
// 4 KiB chunks) and returns the bytes written.
func fill(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create filler: %w", err)
	}
	defer f.Close()
	var n int64
	for _, size := range []int{1 << 20, 4 << 10} {
		chunk := make([]byte, size)
		for {
			w, err := f.Write(chunk)
			n += int64(w)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				return n, fmt.Errorf("write filler: %w", err)
			}
		}
	}
	return n, nil
}

// diskFullResult is what the disk-full episode saw.
type diskFullResult struct {
	ran          bool
	skipped      string // why it did not run
	cycle        int
	fillerBytes  int64
	unavailable  int64         // 503 answers to producers while the disk was full
	unready      bool          // /readyz answered 503 while the disk was full
	reason       string        // /readyz's body then
	recoveredIn  time.Duration // from removing the filler to /readyz 200 and an acknowledged request
	samePID      bool          // recovered without a restart
	recoveredErr string
}

// diskFullEpisode fills the data dir's file system for hold while load
// runs, then frees it and waits for the same server process to be ready
// and acknowledging again.
func diskFullEpisode(ctx context.Context, log *slog.Logger, srv *server, led *ledger, filler string, hold time.Duration) diskFullResult {
	r := diskFullResult{ran: true}
	before := led.unavail.Load()
	n, err := fill(filler)
	r.fillerBytes = n
	if err != nil {
		r.recoveredErr = err.Error()
		_ = os.Remove(filler)
		return r
	}
	log.Info("disk full", "filler_bytes", n)
	end := time.Now().Add(hold)
	for time.Now().Before(end) && ctx.Err() == nil {
		if code, body, err := srv.readyz(ctx); err == nil && code == http.StatusServiceUnavailable {
			r.unready = true
			r.reason = strings.TrimSpace(body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.unavailable = led.unavail.Load() - before
	if err := os.Remove(filler); err != nil {
		r.recoveredErr = fmt.Sprintf("remove filler: %v", err)
		return r
	}
	freed := time.Now()
	okBefore := led.okRequests.Load()
	for ctx.Err() == nil {
		code, _, err := srv.readyz(ctx)
		if err == nil && code == http.StatusOK && led.okRequests.Load() > okBefore {
			r.recoveredIn = time.Since(freed)
			break
		}
		if time.Since(freed) > 60*time.Second {
			r.recoveredErr = "not ready and acknowledging 60s after the filler was removed"
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-srv.done:
		srv.done <- err
		r.recoveredErr = fmt.Sprintf("server exited: %v", err)
	default:
		r.samePID = true
	}
	log.Info("disk space back", "recovered_in", r.recoveredIn, "producer_503s", r.unavailable, "readyz_unready", r.unready)
	return r
}
