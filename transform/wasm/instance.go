package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// instance is one module instance; it runs one call at a time, owned by
// whoever took it from the pool.
type instance struct {
	mod            api.Module
	mem            api.Memory
	alloc, process api.Function
	stack          [2]uint64
	out            *output
}

// callError turns a failed call into the package's error vocabulary. ctx is
// the caller's context: when it ended first, its error is returned instead
// of blaming the module.
func (p *Processor) callError(ctx context.Context, inst *instance, fn string, err error) error {
	out := inst.out.suffix()
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", fn, ctx.Err())
			}
			return fmt.Errorf("%w: %s did not return within %s%s", ErrTimeout, fn, p.timeout, out)
		}
		return fmt.Errorf("%w: %s: the module exited with code %d (%s)%s", p.trapKind(inst), fn, exit.ExitCode(), p.memUse(inst), out)
	}
	return fmt.Errorf("%w: %s: %w (%s)%s", p.trapKind(inst), fn, err, p.memUse(inst), out)
}

// memUse describes the instance's memory against the limit.
func (p *Processor) memUse(inst *instance) string {
	return fmt.Sprintf("memory %.1f of %.1f MiB", float64(inst.mem.Size())/(1<<20), float64(p.memLimit)/(1<<20))
}

// trapKind tells running out of memory from other traps. A module learns
// that memory.grow failed, not the host, so this goes by what language
// runtimes print then (Go: "out of memory"; Rust: "memory allocation of N
// bytes failed").
func (p *Processor) trapKind(inst *instance) error {
	s := inst.out.String()
	if strings.Contains(s, "out of memory") || strings.Contains(s, "memory allocation of") {
		return fmt.Errorf("%w: %w", ErrMemoryLimit, ErrTrap)
	}
	return ErrTrap
}

// Close waits for running calls (until ctx ends), then closes every
// instance and the runtime. Process fails with record.ErrClosed after it.
func (p *Processor) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	// Taking every token means no call runs; if ctx ends first, closing
	// the runtime aborts the calls still running.
	var waitErr error
	for range cap(p.tokens) {
		select {
		case p.tokens <- struct{}{}:
			continue
		case <-ctx.Done():
			waitErr = fmt.Errorf("wasm %s: close: %w", p.name, ctx.Err())
		}
		break
	}
	p.mu.Lock()
	p.idle = nil
	p.mu.Unlock()
	if err := p.rt.Close(context.WithoutCancel(ctx)); err != nil {
		return errors.Join(waitErr, fmt.Errorf("wasm %s: close: %w", p.name, err))
	}
	return waitErr
}

// keep is how much of a module's stdout and stderr is kept per call, at
// each end: a Go panic message comes first, a goroutine dump after it.
const keep = 1024

// output keeps the beginning and the end of what a module wrote to stdout
// and stderr during one call, for error messages. Only the goroutine
// running the instance writes to it.
type output struct {
	head []byte
	tail []byte // the last bytes written after head filled up, up to 2*keep
	more bool   // bytes were dropped between head and tail
}

func (o *output) Write(b []byte) (int, error) {
	n := len(b)
	if room := keep - len(o.head); room > 0 {
		k := min(room, len(b))
		o.head = append(o.head, b[:k]...)
		b = b[k:]
	}
	if len(b) > keep {
		o.more = true
		b = b[len(b)-keep:]
	}
	if len(o.tail)+len(b) > 2*keep {
		o.more = true
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-(keep-len(b)):]...)
	}
	o.tail = append(o.tail, b...)
	return n, nil
}

func (o *output) reset() {
	o.head, o.tail, o.more = o.head[:0], o.tail[:0], false
}

func (o *output) len() int { return len(o.head) + len(o.tail) }

// String returns the head and at most keep bytes of the tail.
func (o *output) String() string {
	t, more := o.tail, o.more
	if len(t) > keep {
		t, more = t[len(t)-keep:], true
	}
	if more {
		return string(o.head) + " … " + string(t)
	}
	return string(o.head) + string(t)
}

// suffix renders the output for an error message ("" when there is none).
func (o *output) suffix() string {
	s := strings.TrimSpace(o.String())
	if s == "" {
		return ""
	}
	return " (module output: " + s + ")"
}
