package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/transform"
	"github.com/hydrant-io/hydrant/transform/builtin"
	"github.com/hydrant-io/hydrant/transform/lambda"
	"github.com/hydrant-io/hydrant/transform/wasm"
)

// procEnv is what processors need from around them.
type procEnv struct {
	cfg      *configs.Config // paths are relative to its file
	pipeline string
	log      *slog.Logger
	// wasmCache compiles each wasm module once for every destination; it
	// is made on first use only.
	wasmCache func() wazero.CompilationCache
}

// newProcessor builds one processor. One case per processor type: a new
// type is one package and one case here.
func newProcessor(ctx context.Context, env procEnv, pc configs.Processor) (transform.Processor, error) {
	switch pc.Type {
	case configs.ProcessorAppendDelimiter:
		return builtin.NewAppendDelimiter(pc.Delimiter), nil
	case configs.ProcessorJQMetadata:
		return builtin.NewJQMetadata(pc.PartitionKeys)
	case configs.ProcessorDeaggregate:
		return builtin.NewDeaggregate(builtin.DeaggregateOptions{Mode: pc.Mode, Delimiter: pc.Delimiter})
	case configs.ProcessorDecompress:
		return builtin.NewDecompress(builtin.DecompressOptions{
			MaxRecordBytes: int64(pc.MaxRecordBytes), MaxBatchBytes: int64(pc.MaxBatchBytes)}), nil
	case configs.ProcessorWasm:
		return wasm.New(ctx, wasm.Config{Module: env.cfg.Resolve(pc.Module), Timeout: time.Duration(pc.Timeout),
			MemoryLimit: int64(pc.MemoryLimit), Cache: env.wasmCache(), Log: env.log})
	case configs.ProcessorLambda, configs.ProcessorExec:
		lc := lambda.Config{
			DeliveryStreamARN: api.DeliveryStreamARN(api.DefaultRegion, env.pipeline), Region: api.DefaultRegion,
			Timeout: time.Duration(pc.Timeout), Retries: pc.Retries,
		}
		if pc.Type == configs.ProcessorLambda {
			return lambda.NewHTTP(lambda.HTTPConfig{Config: lc, URL: pc.URL})
		}
		return lambda.NewExec(lambda.ExecConfig{Config: lc, Command: pc.Command, Env: pc.Env, Dir: env.cfg.BaseDir, Log: env.log})
	default:
		return nil, errNotBuilt
	}
}

// errNotBuilt marks a component type this version does not have yet.
var errNotBuilt = fmt.Errorf("not built yet in this version of hydrant")

// buildProcessors builds a chain; each destination gets its own instances
// (an exec child each, for example). Settings are checked by configs. On
// error it closes what it built and returns config errors naming each
// processor's position.
func buildProcessors(ctx context.Context, env procEnv, pcs []configs.Processor, path string) ([]transform.Processor, error) {
	out := make([]transform.Processor, 0, len(pcs))
	var errs configs.Errors
	for i, pc := range pcs {
		p, err := newProcessor(ctx, env, pc)
		switch {
		case err == errNotBuilt:
			errs = append(errs, env.cfg.Errorf(fmt.Sprintf("%s[%d].type", path, i), "the %s processor is %v", pc.Type, err))
		case err != nil:
			errs = append(errs, env.cfg.Errorf(fmt.Sprintf("%s[%d]", path, i), "%v", err))
		default:
			out = append(out, p)
		}
	}
	if len(errs) > 0 {
		for _, built := range out {
			_ = built.Close(ctx)
		}
		return nil, errs
	}
	return out, nil
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
