package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// pageSize is the WebAssembly page size.
const pageSize = 65536

// The exports a module must have, with their signatures.
var requiredExports = []struct {
	name            string
	params, results []api.ValueType
}{
	{"hydrant_abi_version", nil, []api.ValueType{api.ValueTypeI32}},
	{"hydrant_alloc", []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
	{"hydrant_process", []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}},
}

// Processor is a transform.Processor running a WASM module. It is safe for
// concurrent use; at most Config.Instances batches run at once.
type Processor struct {
	name     string // module file name, for messages
	timeout  time.Duration
	memLimit uint64 // bytes, a whole number of pages
	log      *slog.Logger
	rt       wazero.Runtime
	compiled wazero.CompiledModule

	// tokens holds one entry per running call; its capacity is the pool
	// size, so a full channel means every instance is busy.
	tokens chan struct{}
	// done is closed by Close, releasing callers waiting for a token.
	done   chan struct{}
	mu     sync.Mutex
	idle   []*instance
	closed bool
}

var _ transform.Processor = (*Processor)(nil)

// New compiles the module at cfg.Module, checks that it implements the ABI
// and starts one instance. Errors wrap ErrModule and say what is wrong.
func New(ctx context.Context, cfg Config) (*Processor, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.Instances <= 0 {
		cfg.Instances = runtime.GOMAXPROCS(0)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	name := filepath.Base(cfg.Module)
	pages := min(cfg.MemoryLimit/pageSize, 65536)
	if pages < 1 {
		return nil, fmt.Errorf("%w: %s: memory_limit %d is below one 64 KiB page", ErrModule, name, cfg.MemoryLimit)
	}
	code, err := os.ReadFile(cfg.Module)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModule, err)
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(!cfg.uninterruptible).
		WithMemoryLimitPages(uint32(pages))
	if cfg.Cache != nil {
		rc = rc.WithCompilationCache(cfg.Cache)
	}
	p := &Processor{
		name:     name,
		timeout:  cfg.Timeout,
		memLimit: uint64(pages) * pageSize,
		log:      cfg.Log.With("module", name),
		rt:       wazero.NewRuntimeWithConfig(ctx, rc),
		tokens:   make(chan struct{}, cfg.Instances),
		done:     make(chan struct{}),
	}
	if err := p.init(ctx, code); err != nil {
		_ = p.rt.Close(ctx)
		return nil, fmt.Errorf("%w: %s: %w", ErrModule, name, err)
	}
	return p, nil
}

// init compiles and checks the module and pools a first instance.
func (p *Processor) init(ctx context.Context, code []byte) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return fmt.Errorf("wasi: %w", err)
	}
	compiled, err := p.rt.CompileModule(ctx, code)
	if err != nil {
		return err
	}
	p.compiled = compiled
	for _, f := range compiled.ImportedFunctions() {
		if mod, fn, _ := f.Import(); mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("imports %s.%s; the host provides only %s", mod, fn, wasi_snapshot_preview1.ModuleName)
		}
	}
	exports := compiled.ExportedFunctions()
	for _, want := range requiredExports {
		f, ok := exports[want.name]
		if !ok {
			return fmt.Errorf("missing export %s (see docs/wasm-abi.md)", want.name)
		}
		if !sameTypes(f.ParamTypes(), want.params) || !sameTypes(f.ResultTypes(), want.results) {
			return fmt.Errorf("export %s has type %s, want %s", want.name,
				sig(f.ParamTypes(), f.ResultTypes()), sig(want.params, want.results))
		}
	}
	if _, ok := exports["_initialize"]; !ok {
		if _, ok := exports["_start"]; ok {
			return errors.New("a command module (exports _start): build a reactor, e.g. go build -buildmode=c-shared")
		}
	}
	if _, ok := compiled.ExportedMemories()["memory"]; !ok {
		return errors.New("missing exported memory \"memory\"")
	}
	inst, err := p.instantiate(ctx)
	if err != nil {
		return err
	}
	stack := []uint64{0}
	if err := inst.mod.ExportedFunction("hydrant_abi_version").CallWithStack(ctx, stack); err != nil {
		_ = inst.mod.Close(ctx)
		return fmt.Errorf("hydrant_abi_version: %w", err)
	}
	if v := uint32(stack[0]); v != ABIVersion {
		_ = inst.mod.Close(ctx)
		return fmt.Errorf("ABI version %d, the host speaks %d", v, ABIVersion)
	}
	p.idle = append(p.idle, inst)
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	return string(a) == string(b)
}

func sig(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(params) + ") -> (" + names(results) + ")"
}

// instantiate starts a fresh instance: no filesystem, network, arguments
// or environment; real clocks and randomness; sleeping is a no-op, so a
// module cannot block past its deadline in the host.
func (p *Processor) instantiate(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, max(p.timeout, minStartup))
	defer cancel()
	out := &output{}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(out).
		WithStderr(out).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, mc)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w%s", err, out.suffix())
	}
	return &instance{
		mod:     mod,
		mem:     mod.ExportedMemory("memory"),
		alloc:   mod.ExportedFunction("hydrant_alloc"),
		process: mod.ExportedFunction("hydrant_process"),
		out:     out,
	}, nil
}

// Process runs the batch through one instance. A batch-level failure
// returns an error wrapping one of the package's sentinels; the instance
// involved is then closed rather than reused.
func (p *Processor) Process(ctx context.Context, in []record.Record) ([]transform.Result, error) {
	if len(in) == 0 {
		return []transform.Result{}, nil
	}
	select {
	case p.tokens <- struct{}{}:
	case <-p.done:
		return nil, fmt.Errorf("wasm %s: %w", p.name, record.ErrClosed)
	case <-ctx.Done():
		return nil, fmt.Errorf("wasm %s: waiting for an instance: %w", p.name, ctx.Err())
	}
	defer func() { <-p.tokens }()
	inst, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	res, err := p.run(ctx, inst, in)
	if err != nil {
		p.log.Debug("wasm instance discarded", "err", err)
		_ = inst.mod.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("wasm %s: %w", p.name, err)
	}
	p.put(inst)
	return res, nil
}

// get returns an idle instance or starts one; the caller holds a token.
func (p *Processor) get(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("wasm %s: %w", p.name, record.ErrClosed)
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	inst, err := p.instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("wasm %s: %w: %w", p.name, ErrTrap, err)
	}
	return inst, nil
}

func (p *Processor) put(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, inst)
}

// run makes the two calls of one batch and decodes the answer.
func (p *Processor) run(ctx context.Context, inst *instance, in []record.Record) ([]transform.Result, error) {
	// Sub-records of one aggregate share an ID; the frame needs unique ones.
	ids, _ := transform.RecordIDs(in)
	size := inputSize(in, ids)
	if size > maxFrame || size > p.memLimit {
		return nil, fmt.Errorf("%w: the batch's input frame is %d bytes, memory_limit is %d", ErrMemoryLimit, size, p.memLimit)
	}
	callCtx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	inst.out.reset()
	stack := inst.stack[:]
	stack[0] = size
	if err := inst.alloc.CallWithStack(callCtx, stack); err != nil {
		return nil, p.callError(ctx, inst, "hydrant_alloc", err)
	}
	ptr := uint32(stack[0])
	view, ok := inst.mem.Read(ptr, uint32(size))
	if !ok {
		return nil, fmt.Errorf("%w: hydrant_alloc(%d) returned %#x, outside the module's %d bytes of memory",
			ErrMalformed, size, ptr, inst.mem.Size())
	}
	encodeInput(view, in, ids)
	stack[0], stack[1] = uint64(ptr), size
	if err := inst.process.CallWithStack(callCtx, stack); err != nil {
		return nil, p.callError(ctx, inst, "hydrant_process", err)
	}
	optr, olen := uint32(stack[0]>>32), uint32(stack[0])
	view, ok = inst.mem.Read(optr, olen)
	if !ok {
		return nil, fmt.Errorf("%w: hydrant_process returned %d bytes at %#x, outside the module's %d bytes of memory",
			ErrMalformed, olen, optr, inst.mem.Size())
	}
	// One copy out of the instance's memory: the Results' data aliases it,
	// and the instance is free for the next batch once this returns.
	frame := make([]byte, len(view))
	copy(frame, view)
	if p.log.Enabled(ctx, slog.LevelDebug) && inst.out.len() > 0 {
		p.log.Debug("wasm module output", "output", inst.out.String())
	}
	return decodeOutput(frame, in, ids)
}
