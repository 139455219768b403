package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/hydrant-io/hydrant/configs"
)

// validateCheckTimeout bounds validate --check-connections.
const validateCheckTimeout = 15 * time.Second

// errChecksFailed: validate --check-connections found a destination that
// does not answer.
var errChecksFailed = errors.New("connection checks failed")

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate --config FILE [--check-connections]", stderr)
	cfgPath := fs.String("config", envOr("HYDRANT_CONFIG", ""), "pipeline file to check [HYDRANT_CONFIG]")
	checkConns := fs.Bool("check-connections", false, "also ask every destination and backup store whether it answers (bucket exists, credentials accepted)")
	fs.BoolVar(checkConns, "check", false, "short for --check-connections")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return fmt.Errorf("%w: validate needs --config FILE", errUsage)
	}
	cfg, err := configs.Load(*cfgPath, nil)
	if err != nil {
		return reportConfigError(stderr, err)
	}
	// Build every component as serve would (no stream is opened, no
	// server contacted, no exec child started), then close it.
	ctx := context.Background()
	cache := wazero.NewCompilationCache()
	var closers []func(context.Context) error
	defer func() {
		for _, c := range slices.Backward(closers) {
			_ = c(ctx)
		}
		_ = cache.Close(ctx)
	}()
	pipelines, err := buildPipelines(ctx, cfg, slog.New(slog.DiscardHandler),
		func() wazero.CompilationCache { return cache },
		func(c func(context.Context) error) { closers = append(closers, c) })
	if err != nil {
		return reportConfigError(stderr, err)
	}
	fmt.Fprintln(stdout, "ok")
	for _, p := range cfg.Pipelines {
		shards := fmt.Sprint(p.Stream.Shards)
		if p.Stream.OnDemand {
			shards = "on-demand"
		}
		dests := ""
		for i, d := range p.Destinations {
			if i > 0 {
				dests += ", "
			}
			dests += d.Name + " (" + d.Type + ")"
		}
		fmt.Fprintf(stdout, "pipeline %s: %s shards, %d processors, destinations: %s\n", p.Name, shards, len(p.Processors), dests)
	}
	if !*checkConns {
		return nil
	}
	// A blackholed endpoint must not hold validate for the client's own
	// dial and retry timeouts.
	ctx, cancel := context.WithTimeout(ctx, validateCheckTimeout)
	defer cancel()
	allOK := true
	if cfg.Server.StreamBackend.JetStream() {
		line, ok := checkBackend(ctx, cfg)
		fmt.Fprint(stdout, "check ", line)
		allOK = ok
	}
	for _, p := range pipelines {
		lines, ok := checkAll(ctx, p)
		for _, line := range lines {
			fmt.Fprint(stdout, "check ", line)
		}
		allOK = allOK && ok
	}
	if !allOK {
		return errChecksFailed
	}
	return nil
}

// isLoopback reports whether a listen address only accepts local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
