package lambda

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// ExecConfig configures a processor that talks to a long-lived child.
type ExecConfig struct {
	Config
	// Command is the child's argv (required). A relative program path
	// containing a slash is taken relative to Dir.
	Command []string
	// Dir is the child's working directory ("" = the server's).
	Dir string
	// Env is the child's environment besides PATH, which it inherits from
	// the server unless Env sets it. Nothing else of the server's
	// environment is passed on: it may hold credentials and API keys the
	// child has no business with.
	Env map[string]string
	// Log receives the child's stderr, line by line, and its restarts.
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the wait before restarting a child
	// that died: it doubles with every death in a row. Defaults 100ms, 30s.
	MinBackoff, MaxBackoff time.Duration
}

// NewExec returns a processor that writes each event as one line to the
// child's stdin and reads the response as one line from its stdout. The
// child is started on first use and kept; one invocation runs at a time.
// A child that dies, answers something that is not one line, or misses the
// timeout is killed (with its process group) and started again after a
// back-off; the call fails and is retried by the runtime.
func NewExec(cfg ExecConfig) (*Processor, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("exec: empty command")
	}
	argv := append([]string(nil), cfg.Command...)
	if !filepath.IsAbs(argv[0]) && filepath.Base(argv[0]) != argv[0] && cfg.Dir != "" {
		argv[0] = filepath.Join(cfg.Dir, argv[0])
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err // its message repeats "exec:" and the name
		}
		return nil, fmt.Errorf("exec: command %s: %w", argv[0], err)
	}
	argv[0] = path
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	e := &execInvoker{argv: argv, dir: cfg.Dir, env: childEnviron(cfg.Env), log: cfg.Log.With("processor", "exec", "command", cfg.Command[0]),
		minBackoff: cfg.MinBackoff, maxBackoff: cfg.MaxBackoff}
	return newProcessor(cfg.Config, e), nil
}

// childEnviron is a child's whole environment: PATH from the server's, so
// that a script's #! interpreter and its subprocesses are found, then env,
// sorted for a stable order. It is never nil.
func childEnviron(env map[string]string) []string {
	out := make([]string, 0, len(env)+1)
	if path, ok := os.LookupEnv("PATH"); ok && !hasKey(env, "PATH") {
		out = append(out, "PATH="+path)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

type execInvoker struct {
	argv                   []string
	dir                    string
	env                    []string // the child's whole environment
	log                    *slog.Logger
	minBackoff, maxBackoff time.Duration

	mu        sync.Mutex // one invocation at a time on the child's pipes
	ch        *child
	deaths    int       // deaths in a row, for the back-off
	notBefore time.Time // no restart before
	closed    bool
	pumps     sync.WaitGroup // stderr readers and waiters of every child
}

// child is one running process and our ends of its pipes.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *os.File
	out    *bufio.Reader
	exited chan struct{} // closed once Wait returned; err is set then
	err    error
}

func (e *execInvoker) invoke(ctx context.Context, event []byte, timeout time.Duration, accept func([]byte) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errStopped
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("exec %s: %w", e.argv[0], context.Cause(ctx)) // the child is fine
	}
	// The deadline starts now, not while waiting for the lock: shards
	// share one child.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := e.running(ctx)
	if err != nil {
		return err
	}
	type answer struct {
		line []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		_, err := c.stdin.Write(event)
		if err == nil {
			_, err = c.stdin.Write([]byte{'\n'})
		}
		if err != nil {
			done <- answer{err: fmt.Errorf("write to the process: %w", err)}
			return
		}
		line, err := readLine(c.out, MaxResponse)
		done <- answer{line, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		e.stop(c)
		<-done
		return fmt.Errorf("exec %s: no answer: %w (killed; restarting it)", e.argv[0], context.Cause(ctx))
	}
	if a.err == nil && c.out.Buffered() > 0 {
		a.err = fmt.Errorf("%w: the process wrote more than one line for one event", ErrJSONProcessing)
	}
	if a.err != nil {
		status := e.stop(c)
		return fmt.Errorf("exec %s: %w (%s; restarting it)", e.argv[0], a.err, status)
	}
	if err := accept(a.line); err != nil {
		// Whatever it wrote, it is out of step with the contract now: a
		// fresh child keeps the next answer from being a stale one.
		e.stop(c)
		return fmt.Errorf("exec %s: %w (restarting it)", e.argv[0], err)
	}
	e.deaths = 0
	return nil
}

// readLine reads one '\n'-terminated line of at most limit bytes.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > limit+1 {
			return nil, fmt.Errorf("%w: answer longer than %d bytes", ErrJSONProcessing, limit)
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'}), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, errors.New("the process closed its stdout")
		default:
			return nil, fmt.Errorf("read from the process: %w", err)
		}
	}
}

// running returns the live child, starting one (after the back-off, if
// the last one died) when there is none.
func (e *execInvoker) running(ctx context.Context) (*child, error) {
	if e.ch != nil {
		select {
		case <-e.ch.exited:
			e.log.Warn("exec processor exited", "err", e.ch.err)
			e.stop(e.ch) // closes our end of its pipes and starts the back-off
		default:
			return e.ch, nil
		}
	}
	if wait := time.Until(e.notBefore); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("exec %s: waiting to restart: %w", e.argv[0], context.Cause(ctx))
		case <-t.C:
		}
	}
	c, err := e.start()
	if err != nil {
		e.died()
		return nil, err
	}
	e.ch = c
	return c, nil
}

func (e *execInvoker) died() {
	e.deaths++
	d := e.minBackoff << min(e.deaths-1, 20)
	e.notBefore = time.Now().Add(min(d, e.maxBackoff))
}

func (e *execInvoker) start() (*child, error) {
	cmd := exec.Command(e.argv[0], e.argv[1:]...)
	cmd.Dir = e.dir
	cmd.Env = e.env // never nil: nil would mean the server's environment
	// Its own process group, so that a kill reaches what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", e.argv[0], err)
	}
	// Our own pipes for stdout and stderr: Wait must not close what a
	// reader still reads.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", e.argv[0], err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("exec %s: %w", e.argv[0], err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		stdin.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("exec %s: start: %w", e.argv[0], err)
	}
	c := &child{cmd: cmd, stdin: stdin, stdout: outR, out: bufio.NewReaderSize(outR, 64<<10), exited: make(chan struct{})}
	log := e.log.With("pid", cmd.Process.Pid)
	log.Info("exec processor started")
	e.pumps.Add(2)
	go func() {
		defer e.pumps.Done()
		defer errR.Close()
		logLines(errR, log)
	}()
	go func() {
		defer e.pumps.Done()
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// logLines writes each line of r to log, cut at 4 KiB.
func logLines(r io.Reader, log *slog.Logger) {
	br := bufio.NewReaderSize(r, 4<<10)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 {
			log.Warn("exec processor stderr", "line", string(line), "truncated", isPrefix)
		}
		for isPrefix && err == nil { // skip the rest of a long line
			_, isPrefix, err = br.ReadLine()
		}
		if err != nil {
			return
		}
	}
}

// stop kills c's process group, waits for it and forgets it; it returns
// how the process ended.
func (e *execInvoker) stop(c *child) string {
	select {
	case <-c.exited:
		// Reaped: its pid (and group id) may belong to someone else now.
	default:
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	c.stdout.Close()
	<-c.exited
	if e.ch == c {
		e.ch = nil
		e.died()
	}
	if c.err != nil {
		return c.err.Error()
	}
	return "exited"
}

// close ends the child: stdin is closed so it can finish on its own; after
// ctx ends (or 5 s) it is killed.
func (e *execInvoker) close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if c := e.ch; c != nil {
		c.stdin.Close()
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-c.exited:
		case <-ctx.Done():
		case <-t.C:
		}
		e.stop(c)
	}
	// A descendant that left the group may still hold stderr open.
	pumped := make(chan struct{})
	go func() { e.pumps.Wait(); close(pumped) }()
	select {
	case <-pumped:
	case <-ctx.Done():
	}
	return nil
}
