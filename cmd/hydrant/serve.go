package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"os"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/ingest/admin"
)

// defaultConfigPath is used by serve when --config is not given and it exists.
const defaultConfigPath = "configs/hydrant.yaml"

// shutdownTimeout bounds waiting for in-flight requests on SIGTERM.
const shutdownTimeout = 30 * time.Second

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve [--config FILE] [--listen ADDR]", stderr)
	cfgPath := fs.String("config", envOr("HYDRANT_CONFIG", ""), "pipeline file (default: "+defaultConfigPath+" if present, else the embedded default) [HYDRANT_CONFIG]")
	listen := fs.String("listen", envOr("HYDRANT_LISTEN", ""), "listen address, overrides server.listen [HYDRANT_LISTEN]")
	logFormat := fs.String("log-format", envOr("HYDRANT_LOG_FORMAT", "text"), "log format: text or json [HYDRANT_LOG_FORMAT]")
	logLevel := fs.String("log-level", envOr("HYDRANT_LOG_LEVEL", "info"), "log level: debug, info, warn, error [HYDRANT_LOG_LEVEL]")
	noDelivery := fs.Bool("no-delivery", false, "accept and store records but deliver nothing (maintenance, benchmarks); records wait on disk")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// Request and WAL buffers are most of the live heap; the runtime's
		// default (GOGC=100, heap grows to twice the live set) would double
		// RSS for little gain. 50 measured no throughput loss
		// (docs/benchmarks.md). GOGC/GOMEMLIMIT in the environment win.
		debug.SetGCPercent(50)
	}
	cfg, err := loadServeConfig(*cfgPath)
	if err != nil {
		return reportConfigError(stderr, err)
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	a, err := build(ctx, cfg, log)
	if err != nil {
		return reportConfigError(stderr, err)
	}
	a.noDelivery = *noDelivery
	return a.run(ctx, stdout)
}

// loadServeConfig picks the config serve runs on.
func loadServeConfig(path string) (*configs.Config, error) {
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err != nil {
			return configs.Default(), nil
		}
		path = defaultConfigPath
	}
	return configs.Load(path, nil)
}

// reportConfigError prints config errors one per line (FILE:LINE:COL: ...).
func reportConfigError(stderr io.Writer, err error) error {
	var list configs.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(stderr, e)
		}
		return errReported
	}
	var one *configs.Error
	if errors.As(err, &one) {
		fmt.Fprintln(stderr, one)
		return errReported
	}
	return err
}

// listen opens the server's listener. Past maxConns open connections, new
// ones wait in the kernel's accept queue until one closes: each costs
// buffers and a goroutine.
func listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if maxConns > 0 {
		ln = netutil.LimitListener(ln, maxConns)
	}
	return ln, nil
}

// run serves until ctx is cancelled, then shuts down in order: stop taking
// requests (in-flight ones finish, so every acknowledged record is on
// disk), drain delivery and commit checkpoints, close the streams.
func (a *app) run(ctx context.Context, stdout io.Writer) error {
	ln, err := listen(a.cfg.Server.Listen, a.cfg.Server.Limits.MaxConnections)
	if err != nil {
		a.close()
		return err
	}
	srv := newHTTPServer(a.publicHandler(), a.cfg.Server.Limits, a.log)
	fmt.Fprintf(stdout, "hydrant %s listening on http://%s (Firehose API at /, batch door at /v1/streams/{stream}/records)\n", version, ln.Addr())
	for _, p := range a.pipelines {
		a.log.Info("pipeline ready", "pipeline", p.name, "shards", len(p.stream.Shards()), "destinations", len(p.cfg.Destinations))
	}

	deliveryCtx, stopDelivery := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDelivery()
	var wg sync.WaitGroup
	for _, p := range a.pipelines {
		if a.noDelivery {
			a.log.Warn("delivery is paused (--no-delivery): records are stored, not delivered", "pipeline", p.name)
			continue
		}
		wg.Go(func() {
			if err := p.delivery.Run(deliveryCtx); err != nil {
				a.log.Error("delivery stopped", "pipeline", p.name, "err", err)
			}
		})
	}
	if addr := os.Getenv("HYDRANT_PPROF"); addr != "" {
		// Profiling on its own listener, never on the public doors.
		a.log.Warn("pprof enabled", "addr", addr)
		go func() { a.log.Warn("pprof stopped", "err", http.ListenAndServe(addr, pprofMux())) }()
	}
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })

	select {
	case <-ctx.Done():
		a.log.Info("shutting down: no new requests; draining delivery")
	case err = <-serveErr:
		a.log.Error("http server failed", "err", err)
	}
	a.stopping.Store(true)
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	if serr := srv.Shutdown(shCtx); serr != nil {
		a.log.Warn("http shutdown", "err", serr)
	}
	cancel()
	stopDelivery()
	wg.Wait()
	a.close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("stopped cleanly")
	return nil
}

// readHeaderTimeout bounds reading a request's headers; writeGrace is how
// long after read_timeout an answer may still take to be written (the
// handler waits for the records to be durable first).
const (
	readHeaderTimeout = 10 * time.Second
	writeGrace        = 30 * time.Second
)

// newHTTPServer is the server of every door. Every phase of a connection
// is bounded, so a slow or idle client cannot hold one forever: headers
// (10s), the whole request (server.limits.read_timeout), the answer
// (read_timeout + 30s) and the wait between keep-alive requests
// (server.limits.idle_timeout).
func newHTTPServer(h http.Handler, lim configs.Limits, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       lim.IdleTimeout.D(),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if rt := lim.ReadTimeout.D(); rt > 0 { // zero only in configs built by hand (tests)
		srv.ReadHeaderTimeout = min(readHeaderTimeout, rt)
		srv.ReadTimeout = rt
		srv.WriteTimeout = rt + writeGrace
	}
	return srv
}

// handler mounts every door on one mux. With server.auth set, reads of
// data need a credential like writes (docs/security.md#reads): the status
// API always, /metrics unless server.auth.open_metrics. The /ui page and
// its assets stay open: they are the same embedded files for everyone,
// and the page asks for the key its /v1/pipelines calls need.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	guard := a.ingest.RequireAuth
	mux.Handle("/", a.ingest.Handler())
	mux.Handle("GET /metrics", a.metricsHandler())
	mux.Handle("/ui", admin.Handler())
	mux.Handle("/ui/", admin.Handler())
	mux.Handle("GET /v1/pipelines", guard(http.HandlerFunc(a.servePipelines)))
	mux.Handle("GET /v1/pipelines/{name}", guard(http.HandlerFunc(a.servePipeline)))
	mux.Handle("GET /v1/cluster", guard(http.HandlerFunc(a.serveCluster)))
	return a.metrics.instrument(mux)
}

// metricsHandler is /metrics, guarded unless configured open: pipeline
// names and error counts are not for anyone who can reach the port.
func (a *app) metricsHandler() http.Handler {
	if a.cfg.Server.Auth.MetricsOpen() {
		return a.metrics.handler()
	}
	return a.ingest.RequireAuth(a.metrics.handler())
}

// publicHandler is handler as served on server.listen: on a loopback
// listener only loopback Host names are accepted (DNS rebinding), plus the
// listen address's own host.
func (a *app) publicHandler() http.Handler {
	h := a.handler()
	if host, _, err := net.SplitHostPort(a.cfg.Server.Listen); err == nil && isLoopback(a.cfg.Server.Listen) {
		h = a.ingest.GuardHost(h, host)
	}
	return h
}

// pprofMux serves net/http/pprof for HYDRANT_PPROF=127.0.0.1:6060.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
