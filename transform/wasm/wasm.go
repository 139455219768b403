// Package wasm runs Hydrant `wasm` processors: WASI preview-1 reactor
// modules, executed in-process by wazero, that implement the batch ABI of
// docs/wasm-abi.md.
//
// A Processor compiles its module once (optionally through a shared
// wazero.CompilationCache) and keeps a pool of instances, one call at a time
// each. Every call passes a whole batch in one length-prefixed binary frame
// and reads one frame of per-record verdicts back. Modules get no
// filesystem, network, arguments or environment; their stdout and stderr
// are kept (the tail) for error messages. Memory is capped per instance
// (Config.MemoryLimit) and every call has a deadline (Config.Timeout) after
// which wazero aborts the module.
//
// Whatever a module does wrong (traps, panics, exits, loops, exhausts its
// memory, answers with a malformed frame or wrong record ids) ends as an
// error from Process that wraps one of this package's sentinel errors; the
// delivery runtime backs such batches up as processing-failed. An instance
// that failed is closed, never reused.
package wasm

import (
	"errors"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero"
)

// Sentinel errors. Process errors wrap exactly one of them (ErrMemoryLimit
// also wraps ErrTrap); per-record failures match ErrProcessingFailed.
var (
	// ErrModule: the module cannot be used (not found, not wasm, missing
	// or mistyped export, wrong ABI version, a command instead of a
	// reactor, unknown imports, initial memory above the limit).
	ErrModule = errors.New("wasm: unusable module")
	// ErrTrap: the module trapped, panicked or exited during a call.
	ErrTrap = errors.New("wasm: module trapped")
	// ErrMemoryLimit: the module ran out of memory under memory_limit, or
	// the batch itself does not fit.
	ErrMemoryLimit = errors.New("wasm: module exceeded its memory limit")
	// ErrTimeout: a call did not finish within Config.Timeout.
	ErrTimeout = errors.New("wasm: module timed out")
	// ErrMalformed: the module's answer is not a valid output frame.
	ErrMalformed = errors.New("wasm: malformed output frame")
	// ErrRecordID: the answer has a record id missing, repeated or unknown.
	ErrRecordID = errors.New("wasm: record ids do not match the batch")
	// ErrBatchFailed: the module reported that the whole batch failed.
	ErrBatchFailed = errors.New("wasm: module failed the batch")
	// ErrProcessingFailed: the module answered ProcessingFailed for a
	// record (matched by the Err of that record's Result).
	ErrProcessingFailed = errors.New("wasm: record processing failed")
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMemoryLimit = 128 << 20
	// minStartup is the least time an instance gets to start (a Go
	// module's runtime initialisation), whatever Timeout says, so that a
	// short per-batch timeout does not make instantiation flaky.
	minStartup = 10 * time.Second
)

// Config configures a Processor.
type Config struct {
	// Module is the path of the .wasm file.
	Module string
	// Timeout bounds one call (one batch). Zero means DefaultTimeout.
	Timeout time.Duration
	// MemoryLimit caps each instance's linear memory in bytes, rounded
	// down to 64 KiB pages. Zero means DefaultMemoryLimit. The worst-case
	// memory of a Processor is Instances × MemoryLimit.
	MemoryLimit int64
	// Instances is the pool size: the most batches run at once. Zero
	// means GOMAXPROCS.
	Instances int
	// Cache, if set, is shared compilation state: processors of the same
	// module then compile it once. The caller closes it after them.
	Cache wazero.CompilationCache
	// Log receives module output after failures and pool events. Nil
	// means discard.
	Log *slog.Logger

	// uninterruptible compiles without wazero's termination checks, for
	// the benchmark that measures their cost only: a call then cannot be
	// stopped at its deadline.
	uninterruptible bool
}
