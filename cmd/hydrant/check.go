package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tetratelabs/wazero"

	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/sinks/prefix"
)

// formatEncoder loads a destination's schema and builds its Parquet or ORC
// encoder; nil for JSON. A schema's own problems name its file and line.
func formatEncoder(cfg *configs.Config, f configs.Format) (*columnar.Encoder, error) {
	if !f.Columnar() {
		return nil, nil
	}
	s, err := columnar.LoadSchema(cfg.Resolve(f.Schema))
	if err != nil {
		return nil, err
	}
	return columnar.NewEncoder(f.Type, f.Compression, s)
}

// checkTemplates parses every prefix of the file with the parser delivery
// uses (real Java DateTimeFormatter letters), so `validate` reports what
// `serve` would refuse, at the field's position. configs checks only the
// shape of expressions since it imports no project package.
func checkTemplates(cfg *configs.Config) configs.Errors {
	var errs configs.Errors
	check := func(path, tmpl string, errorPrefix bool) {
		if tmpl == "" {
			return
		}
		if _, err := prefix.Parse(tmpl, errorPrefix); err != nil {
			errs = append(errs, cfg.Errorf(path, "%v", err))
		}
	}
	for i, p := range cfg.Pipelines {
		for j, d := range p.Destinations {
			dp := fmt.Sprintf("pipelines[%d].destinations[%d]", i, j)
			check(dp+".prefix", d.Prefix, false)
			check(dp+".error_output_prefix", d.ErrorOutputPrefix, true)
			check(dp+".backup.prefix", d.Backup.Prefix, false)
		}
	}
	return errs
}

// checkFormats loads every Parquet/ORC schema of an object destination and
// builds its encoder, as `serve` does, for `validate`.
func checkFormats(cfg *configs.Config) configs.Errors {
	var errs configs.Errors
	for i, p := range cfg.Pipelines {
		for j, d := range p.Destinations {
			if d.Type != configs.DestS3 && d.Type != configs.DestDirectory {
				continue
			}
			if _, err := formatEncoder(cfg, d.Format); err != nil {
				errs = append(errs, cfg.Errorf(fmt.Sprintf("pipelines[%d].destinations[%d].format.schema", i, j), "%v", err))
			}
		}
	}
	return errs
}

// checkProcessors builds and closes every processor of the file, so that
// `validate` reports what `serve` would: a wasm module that does not load
// or lacks an export, an exec command that is not found, a bad lambda URL.
// Nothing is started: exec children start on first use.
func checkProcessors(ctx context.Context, cfg *configs.Config) configs.Errors {
	cache := wazero.NewCompilationCache()
	defer cache.Close(ctx)
	var errs configs.Errors
	check := func(pipeline string, pcs []configs.Processor, path string) {
		if len(pcs) == 0 {
			return
		}
		env := procEnv{cfg: cfg, pipeline: pipeline, log: slog.New(slog.DiscardHandler),
			wasmCache: func() wazero.CompilationCache { return cache }}
		procs, err := buildProcessors(ctx, env, pcs, path)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, p := range procs {
			_ = p.Close(ctx)
		}
	}
	for i, p := range cfg.Pipelines {
		pp := fmt.Sprintf("pipelines[%d]", i)
		check(p.Name, p.Processors, pp+".processors")
		for j, d := range p.Destinations {
			check(p.Name, d.Processors, fmt.Sprintf("%s.destinations[%d].processors", pp, j))
		}
	}
	return errs
}
