package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"
)

// env is the soak's working set: directories, processes and results.
type env struct {
	o        options
	log      *slog.Logger
	work     string
	dataRoot string // tmpfs mount point (or a plain directory)
	tmpfs    bool
	lake     string
	cfg      string
	addr     string
	srvLog   *os.File
	minio    *minioServer
	mc       *minio.Client
	led      *ledger
	peaks    peaks
	rng      *rand.Rand
}

// outageResult is what the MinIO outage episode saw.
type outageResult struct {
	ran      bool
	cycle    int
	down     time.Duration
	kills    int // server kills while MinIO was down
	startErr error
}

// results gathers everything the report prints.
type results struct {
	start    time.Time
	elapsed  time.Duration
	cycles   int
	seed     uint64
	outage   outageResult
	diskFull diskFullResult
	tallies  []tally
	status   pipelineStatus
}

func run(ctx context.Context, log *slog.Logger, o options, out io.Writer) (err error) {
	res := &results{start: time.Now(), seed: o.seed}
	if res.seed == 0 {
		res.seed = rand.Uint64()
	}
	e := &env{o: o, log: log, led: newLedger(o.workers), rng: rand.New(rand.NewPCG(res.seed, res.seed^0x50a4))}
	if err := e.setup(ctx); err != nil {
		e.teardown(true)
		return err
	}
	defer func() { e.teardown(err != nil) }()

	stopLoad := startLoad(ctx, o, pipelineName, e.addr, e.led)
	loadStopped := false
	defer func() {
		if !loadStopped {
			stopLoad()
		}
	}()
	if err := e.cycles(ctx, res); err != nil {
		return err
	}
	stopLoad()
	loadStopped = true
	if err := e.drain(ctx, res); err != nil {
		return err
	}
	if err := e.verify(ctx, res); err != nil {
		return err
	}
	res.elapsed = time.Since(res.start)
	report(out, res, e)
	for _, t := range res.tallies {
		if t.missing > 0 {
			return fmt.Errorf("%w: %s misses %d", errMissing, t.name, t.missing)
		}
	}
	if res.outage.startErr != nil {
		return fmt.Errorf("minio outage: %w", res.outage.startErr)
	}
	if res.diskFull.ran && res.diskFull.recoveredErr != "" {
		return fmt.Errorf("disk full: %s", res.diskFull.recoveredErr)
	}
	return nil
}

// setup makes the working directory, the tmpfs, MinIO and its bucket and
// the config.
func (e *env) setup(ctx context.Context) error {
	var err error
	if e.work, err = os.MkdirTemp("", "hydrant-soak-"); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	e.log.Info("work dir", "path", e.work)
	e.dataRoot = filepath.Join(e.work, "datafs")
	e.lake = filepath.Join(e.work, "lake")
	for _, d := range []string{e.dataRoot, e.lake, filepath.Join(e.work, "minio")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	if err := mountTmpfs(ctx, e.dataRoot, e.o.tmpfsSize); err != nil {
		e.log.Warn("no tmpfs: the disk-full episode will be skipped", "err", err)
	} else {
		e.tmpfs = true
	}
	if e.srvLog, err = os.Create(filepath.Join(e.work, "hydrant.log")); err != nil {
		return fmt.Errorf("server log: %w", err)
	}
	mlog, err := os.Create(filepath.Join(e.work, "minio.log"))
	if err != nil {
		return fmt.Errorf("minio log: %w", err)
	}
	if e.minio, err = newMinio(e.o.minio, filepath.Join(e.work, "minio"), mlog); err != nil {
		return err
	}
	if err := e.minio.start(ctx, e.o.startupWait); err != nil {
		return err
	}
	if e.mc, err = e.minio.client(); err != nil {
		return err
	}
	if err := e.mc.MakeBucket(ctx, bucketName, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("make bucket: %w", err)
	}
	if e.addr, err = freeAddr(); err != nil {
		return err
	}
	e.cfg, err = writeConfig(e.work, e.addr, filepath.Join(e.dataRoot, "data"), e.lake, e.minio.endpoint())
	return err
}

// teardown stops MinIO, unmounts the tmpfs and removes the work dir
// unless asked to keep it (or the run failed).
func (e *env) teardown(failed bool) {
	if e.minio != nil {
		e.minio.stop()
	}
	if e.tmpfs {
		if err := unmount(e.dataRoot); err != nil {
			e.log.Warn("unmount", "err", err)
		}
	}
	if e.srvLog != nil {
		e.srvLog.Close()
	}
	if e.work == "" {
		return
	}
	if failed || e.o.keep {
		e.log.Info("work dir kept", "path", e.work, "server_log", filepath.Join(e.work, "hydrant.log"))
		return
	}
	if err := os.RemoveAll(e.work); err != nil {
		e.log.Warn("remove work dir", "err", err)
	}
}

// episodeCycles picks the cycles of the MinIO outage (a third in) and of
// the disk-full episode (two thirds in).
func episodeCycles(cycles int) (outage, disk int) {
	return cycles / 3, (2 * cycles) / 3
}

// cycles runs the kill -9 cycles with the two episodes.
func (e *env) cycles(ctx context.Context, res *results) error {
	outageAt, diskAt := episodeCycles(e.o.cycles)
	var outageDone chan error
	var outageEnd time.Time
	if e.o.diskFull <= 0 {
		res.diskFull.skipped = "disabled"
	} else if !e.tmpfs {
		res.diskFull.skipped = "tmpfs mount failed (not root?)"
	}
	for c := range e.o.cycles {
		srv, err := startServer(ctx, e.o.hydrant, e.cfg, e.addr, e.srvLog, e.o.startupWait)
		if err != nil {
			return fmt.Errorf("cycle %d: %w", c, err)
		}
		wctx, wcancel := context.WithCancel(ctx)
		watched := make(chan peaks, 1)
		go func() { watched <- watchProc(wctx, srv.pid(), 100*time.Millisecond) }()

		if c == outageAt && e.o.outage > 0 {
			res.outage = outageResult{ran: true, cycle: c}
			outageDone = make(chan error, 1)
			outageEnd = time.Now().Add(e.o.outage)
			e.log.Info("minio outage", "cycle", c, "for", e.o.outage)
			e.minio.stop()
			go func() {
				time.Sleep(time.Until(outageEnd))
				outageDone <- e.minio.start(ctx, e.o.startupWait)
			}()
		}
		if c == diskAt && res.diskFull.skipped == "" {
			res.diskFull = diskFullEpisode(ctx, e.log, srv, e.led, filepath.Join(e.dataRoot, "filler"), e.o.diskFull)
			res.diskFull.cycle = c
		}
		span := e.o.maxLoad - e.o.minLoad
		load := e.o.minLoad + time.Duration(e.rng.Int64N(int64(span)+1))
		select {
		case <-ctx.Done():
		case <-time.After(load):
		}
		if s, err := sampleProc(srv.pid()); err == nil {
			e.peaks.add(s)
		}
		srv.kill()
		wcancel()
		p := <-watched
		e.peaks.add(procSample{hwmKiB: p.hwmKiB, fds: p.fds})
		if outageDone != nil && time.Now().Before(outageEnd) {
			res.outage.kills++
		}
		res.cycles = c + 1
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d cycles: %w", c+1, context.Cause(ctx))
		}
		if (c+1)%10 == 0 || c+1 == e.o.cycles {
			acked, _ := e.led.totals()
			e.log.Info("cycles", "done", c+1, "of", e.o.cycles, "acknowledged", acked,
				"peak_rss_mib", e.peaks.hwmKiB/1024, "peak_fds", e.peaks.fds)
		}
	}
	if outageDone != nil {
		res.outage.startErr = <-outageDone
		res.outage.down = e.o.outage
	}
	return nil
}

// drain starts the server a last time with no load, waits until no
// destination has anything pending, and stops it with SIGTERM.
func (e *env) drain(ctx context.Context, res *results) error {
	if !e.minio.ready(ctx) {
		return errors.New("minio is not up for the drain")
	}
	srv, err := startServer(ctx, e.o.hydrant, e.cfg, e.addr, e.srvLog, e.o.startupWait)
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	defer func() {
		if srv != nil {
			srv.kill()
		}
	}()
	e.log.Info("draining")
	deadline := time.Now().Add(e.o.drain)
	zero := 0
	for zero < 3 {
		if time.Now().After(deadline) {
			return fmt.Errorf("drain: records still pending after %s", e.o.drain)
		}
		time.Sleep(500 * time.Millisecond)
		st, err := srv.status(ctx, pipelineName)
		if err != nil {
			e.log.Warn("drain status", "err", err)
			continue
		}
		res.status = st
		if st.pending() == 0 {
			zero++
		} else {
			zero = 0
		}
	}
	if s, err := sampleProc(srv.pid()); err == nil {
		e.peaks.add(s)
	}
	err = srv.stop(60 * time.Second)
	srv = nil
	return err
}

// verify reads both destinations back and compares them with the ledger.
func (e *env) verify(ctx context.Context, res *results) error {
	lake, err := readDirectory("lake (directory)", e.lake)
	if err != nil {
		return err
	}
	s3, err := readBucket(ctx, "s3 (MinIO, gzip)", e.mc, bucketName)
	if err != nil {
		return err
	}
	for _, d := range []*delivered{lake, s3} {
		res.tallies = append(res.tallies, compare(d, e.led))
	}
	return nil
}
