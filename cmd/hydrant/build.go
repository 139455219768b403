package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/ingest"
	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/backup"
	"github.com/hydrant-io/hydrant/sinks/directory"
	"github.com/hydrant-io/hydrant/sinks/object"
	"github.com/hydrant-io/hydrant/sinks/s3"
	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
	"github.com/hydrant-io/hydrant/transform/builtin"
	"github.com/hydrant-io/hydrant/transform/lambda"
	"github.com/hydrant-io/hydrant/transform/wasm"
)

// pipelineVersion is Firehose's DeliveryStreamVersion in object names.
// Config changes are not versioned yet, so it stays 1.
const pipelineVersion = 1

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
}

// pipeline is one configured pipeline with its stream and runtime.
type pipeline struct {
	name     string
	cfg      configs.Pipeline
	stream   *streams.Stream
	key      *keyQuery // nil unless stream.partition_key is set
	delivery *delivery.Pipeline
}

// build opens every stream and builds every pipeline. Components that later
// issues build are refused with a config error at their position.
func build(ctx context.Context, cfg *configs.Config, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, byName: map[string]*pipeline{}, started: time.Now()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	refused := checkTemplates(cfg)
	refuse := func(path, what string) {
		refused = append(refused, cfg.Errorf(path, "%s is not built yet in this version of hydrant", what))
	}
	stores := map[string]sinks.ObjectStore{}
	objectStore := func(name, path string) sinks.ObjectStore {
		if s, ok := stores[name]; ok {
			return s
		}
		st := cfg.Stores[name]
		var s sinks.ObjectStore
		var err error
		switch st.Type {
		case configs.StoreDirectory:
			s, err = directory.New(st.Path)
		case configs.StoreS3:
			s, err = s3.New(s3.Config{
				Endpoint: st.Endpoint, Region: st.Region, PathStyle: st.PathStyle,
				AccessKeyID: st.AccessKeyID, SecretAccessKey: st.SecretAccessKey,
				Logger: log.With("store", name),
			})
		default:
			refuse(path, "a "+st.Type+" store")
			return nil
		}
		if err != nil {
			refused = append(refused, cfg.Errorf(path, "%v", err))
			return nil
		}
		stores[name] = s
		return s
	}

	budget := streams.NewBudget(int64(cfg.Server.Limits.MaxBacklogBytes))
	for i, pc := range cfg.Pipelines {
		pp := fmt.Sprintf("pipelines[%d]", i)
		p := &pipeline{name: pc.Name, cfg: pc}
		if pc.Stream.OnDemand {
			refuse(pp+".stream.shards", `shards: "on-demand"`)
		}
		if pc.Stream.PartitionKey != "" {
			if p.key, err = newKeyQuery(pc.Stream.PartitionKey); err != nil {
				refused = append(refused, cfg.Errorf(pp+".stream.partition_key", "%v", err))
			}
		}
		refuseProcessors(pc.Processors, pp+".processors", refuse)
		var dests []*delivery.Destination
		for j, dc := range pc.Destinations {
			dp := fmt.Sprintf("%s.destinations[%d]", pp, j)
			refuseProcessors(dc.Processors, dp+".processors", refuse)
			if dc.Type != configs.DestDirectory && dc.Type != configs.DestS3 {
				refuse(dp+".type", "the "+dc.Type+" sink")
				continue
			}
			store := objectStore(dc.Store, dp+".store")
			backupStore := objectStore(dc.Backup.Store, dp+".backup.store")
			env := procEnv{cfg: cfg, pipeline: pc.Name, log: log.With("pipeline", pc.Name, "destination", dc.Name), wasmCache: a.wasmCache}
			procs, perr := buildProcessors(ctx, env, pc.Processors, pp+".processors")
			if perr == nil {
				var more []transform.Processor
				more, perr = buildProcessors(ctx, env, dc.Processors, dp+".processors")
				procs = append(procs, more...)
			}
			for _, pr := range procs {
				a.closers = append(a.closers, pr.Close)
			}
			if perr != nil {
				refused = append(refused, perr)
				continue
			}
			format, err := formatEncoder(cfg, dc.Format)
			if err != nil {
				refused = append(refused, cfg.Errorf(dp+".format.schema", "%v", err))
				continue
			}
			if store == nil || backupStore == nil || len(refused) > 0 {
				continue
			}
			sink, err := object.New(object.Config{Pipeline: pc.Name, Version: pipelineVersion, Bucket: dc.Bucket, Prefix: dc.Prefix,
				Compression: dc.Compression, Format: format}, store)
			if err != nil {
				refused = append(refused, cfg.Errorf(dp+".prefix", "%v", err))
				continue
			}
			bw, err := backup.New(backup.Config{
				Pipeline: pc.Name, Destination: dc.Name, Version: pipelineVersion,
				Bucket: dc.Backup.Bucket, ErrorPrefix: dc.ErrorOutputPrefix, SourcePrefix: dc.Backup.Prefix,
			}, backupStore)
			if err != nil {
				refused = append(refused, cfg.Errorf(dp+".error_output_prefix", "%v", err))
				continue
			}
			dests = append(dests, &delivery.Destination{
				Name:          dc.Name,
				ErrorType:     record.S3Failed,
				Sink:          sink,
				Processors:    procs,
				Policy:        buffer.Policy{MaxBytes: int64(dc.Buffer.Size), Interval: time.Duration(dc.Buffer.Interval)},
				Retry:         time.Duration(dc.Retry.Duration),
				Backup:        bw,
				BackupAll:     dc.Backup.Mode == configs.BackupAll,
				MaxPartitions: dc.MaxActivePartitions,
			})
		}
		if len(refused) > 0 {
			continue
		}
		names := make([]string, len(pc.Destinations))
		for j, d := range pc.Destinations {
			names[j] = d.Name
		}
		p.stream, err = streams.Open(ctx, streams.Options{
			Dir:       filepath.Join(cfg.Server.DataDir, pc.Name),
			Name:      pc.Name,
			Shards:    pc.Stream.Shards,
			Retention: time.Duration(pc.Stream.Retention),
			Consumers: names,
			Budget:    budget,
			Logger:    log.With("pipeline", pc.Name),
		})
		if err != nil {
			return nil, fmt.Errorf("open stream of pipeline %q: %w", pc.Name, err)
		}
		a.closers = append(a.closers, func(context.Context) error { return p.stream.Close() })
		for _, d := range dests {
			a.closers = append(a.closers, d.Sink.Close)
		}
		p.delivery, err = delivery.New(delivery.Options{Name: pc.Name, Stream: delivery.Local(p.stream), Destinations: dests, Logger: log})
		if err != nil {
			return nil, err
		}
		a.pipelines = append(a.pipelines, p)
		a.byName[p.name] = p
	}
	if len(refused) > 0 {
		return nil, refused
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

// builtProcessors are the processor types this version can run.
var builtProcessors = map[string]bool{
	configs.ProcessorAppendDelimiter: true,
	configs.ProcessorJQMetadata:      true,
	configs.ProcessorDeaggregate:     true,
	configs.ProcessorDecompress:      true,
	configs.ProcessorLambda:          true,
	configs.ProcessorExec:            true,
	configs.ProcessorWasm:            true,
}

// wasmCache returns the app's wasm compilation cache, made on first use and
// closed with the app after every processor. It is kept on disk under the
// data directory, so a restart does not compile the modules again (wazero
// keys it by module hash and its own version); in memory if that fails.
func (a *app) wasmCache() wazero.CompilationCache {
	if a.compiled == nil {
		dir := filepath.Join(a.cfg.Server.DataDir, ".wasm-cache")
		c, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			a.log.Warn("wasm compilation cache in memory only", "dir", dir, "err", err)
			c = wazero.NewCompilationCache()
		}
		a.compiled = c
		a.closers = append(a.closers, a.compiled.Close)
	}
	return a.compiled
}

// refuseProcessors reports every processor type not built yet.
func refuseProcessors(pcs []configs.Processor, path string, refuse func(path, what string)) {
	for i, pc := range pcs {
		if !builtProcessors[pc.Type] {
			refuse(fmt.Sprintf("%s[%d].type", path, i), "the "+pc.Type+" processor")
		}
	}
}

// procEnv is what processors need from around them.
type procEnv struct {
	cfg      *configs.Config // paths are relative to its file
	pipeline string
	log      *slog.Logger
	// wasmCache compiles each wasm module once for every destination; it
	// is made on first use only.
	wasmCache func() wazero.CompilationCache
}

// buildProcessors builds a chain; each destination gets its own instances
// (an exec child each, for example). Types are checked by refuseProcessors
// first; settings by configs.
// On error it closes what it built and names the processor's position.
func buildProcessors(ctx context.Context, env procEnv, pcs []configs.Processor, path string) ([]transform.Processor, *configs.Error) {
	out := make([]transform.Processor, 0, len(pcs))
	for i, pc := range pcs {
		var p transform.Processor
		var err error
		switch pc.Type {
		case configs.ProcessorAppendDelimiter:
			p = builtin.NewAppendDelimiter(pc.Delimiter)
		case configs.ProcessorJQMetadata:
			p, err = builtin.NewJQMetadata(pc.PartitionKeys)
		case configs.ProcessorDeaggregate:
			p, err = builtin.NewDeaggregate(builtin.DeaggregateOptions{Mode: pc.Mode, Delimiter: pc.Delimiter})
		case configs.ProcessorDecompress:
			p = builtin.NewDecompress(builtin.DecompressOptions{})
		case configs.ProcessorWasm:
			p, err = wasm.New(ctx, wasm.Config{Module: env.cfg.Resolve(pc.Module), Timeout: time.Duration(pc.Timeout),
				MemoryLimit: int64(pc.MemoryLimit), Cache: env.wasmCache(), Log: env.log})
		case configs.ProcessorLambda, configs.ProcessorExec:
			lc := lambda.Config{
				DeliveryStreamARN: api.DeliveryStreamARN(api.DefaultRegion, env.pipeline), Region: api.DefaultRegion,
				Timeout: time.Duration(pc.Timeout), Retries: pc.Retries,
			}
			if pc.Type == configs.ProcessorLambda {
				p, err = lambda.NewHTTP(lambda.HTTPConfig{Config: lc, URL: pc.URL})
			} else {
				p, err = lambda.NewExec(lambda.ExecConfig{Config: lc, Command: pc.Command, Dir: env.cfg.BaseDir, Log: env.log})
			}
		default:
			continue
		}
		if err != nil {
			for _, built := range out {
				_ = built.Close(ctx)
			}
			return nil, env.cfg.Errorf(fmt.Sprintf("%s[%d]", path, i), "%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// close releases everything build opened, last opened first.
func (a *app) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range slices.Backward(a.closers) {
		if err := c(ctx); err != nil {
			a.log.Warn("close", "err", err)
		}
	}
	a.closers = nil
}

// ready is /readyz: streams open and not shutting down.
func (a *app) ready(context.Context) error {
	if a.stopping.Load() {
		return errors.New("shutting down")
	}
	return nil
}

// Append implements ingest.Streams.
func (a *app) Append(ctx context.Context, stream string, recs []record.Record) error {
	p, ok := a.byName[stream]
	if !ok {
		return record.ErrStreamNotFound
	}
	if a.stopping.Load() {
		a.metrics.throttled.WithLabelValues(stream).Add(float64(len(recs)))
		return fmt.Errorf("shutting down: %w", record.ErrBackpressure)
	}
	if p.key != nil {
		for i := range recs {
			if recs[i].Key == "" {
				recs[i].Key = p.key.eval(recs[i].Data)
			}
		}
	}
	err := p.stream.Append(ctx, recs)
	switch {
	case err == nil:
		var n int
		for i := range recs {
			n += len(recs[i].Data)
		}
		a.metrics.incomingRecords.WithLabelValues(stream).Add(float64(len(recs)))
		a.metrics.incomingBytes.WithLabelValues(stream).Add(float64(n))
		a.metrics.incomingPuts.WithLabelValues(stream).Inc()
	case errors.Is(err, record.ErrBackpressure):
		a.metrics.throttled.WithLabelValues(stream).Add(float64(len(recs)))
	}
	return err
}

// List implements ingest.Streams.
func (a *app) List() []string {
	names := make([]string, len(a.pipelines))
	for i, p := range a.pipelines {
		names[i] = p.name
	}
	return names
}

// Describe implements ingest.Streams.
func (a *app) Describe(stream string) (ingest.StreamInfo, error) {
	p, ok := a.byName[stream]
	if !ok {
		return ingest.StreamInfo{}, record.ErrStreamNotFound
	}
	info := ingest.StreamInfo{Name: p.name, VersionID: strconv.Itoa(pipelineVersion), Created: a.started}
	for _, d := range p.cfg.Destinations {
		info.Destinations = append(info.Destinations, ingest.DestinationInfo{
			Name: d.Name, Type: d.Type, Bucket: d.Bucket, Prefix: d.Prefix, ErrorPrefix: d.ErrorOutputPrefix,
			URL: d.URL, BufferBytes: int64(d.Buffer.Size), BufferInterval: time.Duration(d.Buffer.Interval),
			Compression: d.Compression,
		})
	}
	return info, nil
}
