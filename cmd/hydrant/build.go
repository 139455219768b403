package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/ingest"
	"github.com/hydrant-io/hydrant/streams/jetstream"
)

// app is the running server: streams, delivery pipelines and the doors.
type app struct {
	cfg       *configs.Config
	log       *slog.Logger
	pipelines []*pipeline
	byName    map[string]*pipeline
	ingest    *ingest.Server
	metrics   *metrics
	closers   []func(context.Context) error
	compiled  wazero.CompilationCache // see wasmCache
	stopping  atomic.Bool
	// noDelivery stores records without delivering them (serve --no-delivery).
	noDelivery bool
	started    time.Time
	readiness  readiness
	// cluster is the JetStream backend's connection; nil on the local log.
	cluster *jetstream.Backend
}

// pipeline is one configured pipeline with its stream and runtime.
type pipeline struct {
	name         string
	cfg          configs.Pipeline
	key          *keyQuery // nil unless stream.partition_key is set
	destinations []*destination
	stream       streamCore      // for the doors, status and metrics
	source       delivery.Stream // the same stream, for the runtime
	leases       delivery.Leaser // nil on the local log
	delivery     *delivery.Pipeline
}

// build makes the server from its config: every pipeline's components
// (buildPipelines, shared with validate), then the streams, the runtime
// and the doors. Components that later issues build are refused with a
// config error at their position.
func build(ctx context.Context, cfg *configs.Config, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, byName: map[string]*pipeline{}, started: time.Now()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.pipelines, err = buildPipelines(ctx, cfg, log, a.wasmCache, func(c func(context.Context) error) { a.closers = append(a.closers, c) })
	if err != nil {
		return nil, err
	}
	if err := a.openStreams(ctx); err != nil {
		return nil, err
	}
	for _, p := range a.pipelines {
		dests := make([]*delivery.Destination, len(p.destinations))
		for j, d := range p.destinations {
			dests[j] = d.Destination
		}
		p.delivery, err = delivery.New(delivery.Options{Name: p.name, Stream: p.source, Leases: p.leases, Destinations: dests, Logger: log})
		if err != nil {
			return nil, err
		}
		a.byName[p.name] = p
	}
	a.metrics = newMetrics(a)
	lim := cfg.Server.Limits
	creds := map[string]string{}
	for _, c := range cfg.Server.Auth.AWSCredentials {
		creds[c.AccessKeyID] = c.SecretAccessKey
	}
	a.ingest, err = ingest.New(ingest.Options{
		Streams: a,
		Limits: ingest.Limits{
			MaxRequestBytes:      int64(lim.MaxRequestBytes),
			MaxRecordBytes:       int64(lim.MaxRecordBytes),
			MaxRecordsPerRequest: int64(lim.MaxRecordsPerRequest),
			MaxInflightBytes:     int64(lim.MaxInflightBytes),
		},
		APIKeys:        cfg.Server.Auth.APIKeys,
		AWSCredentials: creds,
		Ready:          a.ready,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	if !cfg.Server.Auth.Enabled() && !isLoopback(cfg.Server.Listen) {
		log.Warn("no server.auth configured and listening beyond loopback: anyone who can reach the port can write", "listen", cfg.Server.Listen)
	}
	return a, nil
}

// buildPipelines builds every pipeline's partition-key query and
// destinations (processors, sink, backup) without opening a stream:
// serve runs what it returns, validate checks and closes it. Every
// mistake in the file is reported at once, at its position. keep receives
// the closer of everything built, also on error.
func buildPipelines(ctx context.Context, cfg *configs.Config, log *slog.Logger, wasmCache func() wazero.CompilationCache, keep func(func(context.Context) error)) ([]*pipeline, error) {
	var errs []error
	if refused := checkTemplates(cfg); len(refused) > 0 {
		errs = append(errs, refused)
	}
	stores := newStoreSet(cfg, log, keep)
	var out []*pipeline
	for i, pc := range cfg.Pipelines {
		pp := fmt.Sprintf("pipelines[%d]", i)
		p := &pipeline{name: pc.Name, cfg: pc}
		if pc.Stream.OnDemand {
			errs = append(errs, cfg.Errorf(pp+".stream.shards", `shards: "on-demand" is not built yet in this version of hydrant`))
		}
		if pc.Stream.PartitionKey != "" {
			var err error
			if p.key, err = newKeyQuery(pc.Stream.PartitionKey); err != nil {
				errs = append(errs, cfg.Errorf(pp+".stream.partition_key", "%v", err))
			}
		}
		for j, dc := range pc.Destinations {
			dlog := log.With("pipeline", pc.Name, "destination", dc.Name)
			env := sinkEnv{cfg: cfg, pipeline: pc.Name, dc: dc, path: fmt.Sprintf("%s.destinations[%d]", pp, j), stores: stores, log: dlog}
			procs := procEnv{cfg: cfg, pipeline: pc.Name, log: dlog, wasmCache: wasmCache}
			d, err := buildDestination(ctx, env, pc, pp, procs, keep)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.destinations = append(p.destinations, d)
		}
		out = append(out, p)
	}
	if err := joinConfigErrors(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// close releases everything build opened, last opened first.
func (a *app) close() {
	a.readiness.wg.Wait() // a round of destination checks uses the sinks
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range slices.Backward(a.closers) {
		if err := c(ctx); err != nil {
			a.log.Warn("close", "err", err)
		}
	}
	a.closers = nil
}

// errShuttingDown is /readyz's answer while the server stops.
var errShuttingDown = errors.New("shutting down")
