package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// syncBuffer is a log sink the stderr pump may write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newChild returns an exec processor running this test binary as a child
// in the given mode (see runChild).
func newChild(t *testing.T, mode string, c Config, log *slog.Logger) *Processor {
	t.Helper()
	return newChildEnv(t, c, log, map[string]string{childEnv: mode})
}

// newChildEnv is newChild with the child's whole Env given.
func newChildEnv(t *testing.T, c Config, log *slog.Logger, env map[string]string) *Processor {
	t.Helper()
	exe := testExecutable(t)
	p, err := NewExec(ExecConfig{Config: c, Command: []string{exe}, Env: env, Log: log, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// seenEnviron runs an "env" child with env and returns what it sees.
func seenEnviron(t *testing.T, env map[string]string) []string {
	t.Helper()
	env[childEnv] = "env"
	p := newChildEnv(t, cfg(), nil, env)
	res, err := p.Process(t.Context(), recs(`{}`))
	require.NoError(t, err)
	require.Equal(t, transform.Ok, res[0].Status, res[0].Err)
	vars := strings.Split(string(res[0].Out[0].Data), "\n")
	slices.Sort(vars)
	return vars
}

// Hydrant's own variables (credentials, API keys) never reach a child: it
// gets PATH and what its env: sets.
func TestExec_TheChildGetsOnlyItsOwnEnvironment(t *testing.T) {
	t.Setenv("HYDRANT_TEST_SECRET", "do-not-leak")
	t.Setenv("HOME", "/home/hydrant")
	t.Setenv("PATH", "/usr/bin:/bin")
	require.Equal(t, []string{"GREETING=hi", childEnv + "=env", "PATH=/usr/bin:/bin"},
		seenEnviron(t, map[string]string{"GREETING": "hi"}))
}

func TestExec_EnvOverridesPath(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin")
	require.Equal(t, []string{childEnv + "=env", "PATH=/opt/tools/bin"},
		seenEnviron(t, map[string]string{"PATH": "/opt/tools/bin"}))
}

func TestExec_NoPathWithoutOne(t *testing.T) {
	exe := testExecutable(t) // absolute: found without PATH
	t.Setenv("PATH", "")
	require.NoError(t, os.Unsetenv("PATH"))
	p, err := NewExec(ExecConfig{Config: cfg(), Command: []string{exe}, Env: map[string]string{childEnv: "env"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	res, err := p.Process(t.Context(), recs(`{}`))
	require.NoError(t, err)
	require.Equal(t, childEnv+"=env", string(res[0].Out[0].Data))
}

// pidOf returns the pid the child put into a record's partition keys.
func pidOf(t *testing.T, res []transform.Result) string {
	t.Helper()
	require.Equal(t, transform.Ok, res[0].Status, res[0].Err)
	return res[0].Out[0].Meta[record.LambdaKey("pid")]
}

func TestExec_OneLongLivedProcessServesEveryBatch(t *testing.T) {
	p := newChild(t, "upper", cfg(), nil)
	var pids []string
	for range 5 {
		res, err := p.Process(t.Context(), recs(`{"customer":"c9"}`, `{"drop":true}`, `{"fail":true}`))
		require.NoError(t, err)
		require.Equal(t, `{"CUSTOMER":"C9"}`, string(res[0].Out[0].Data))
		require.Equal(t, "c9", res[0].Out[0].Meta[record.LambdaKey("customer")])
		require.Equal(t, transform.Dropped, res[1].Status)
		require.Equal(t, transform.Failed, res[2].Status)
		pids = append(pids, pidOf(t, res))
	}
	for _, pid := range pids {
		require.Equal(t, pids[0], pid, "the same process answered every batch")
	}
}

func TestExec_ACrashedChildIsRestarted(t *testing.T) {
	logs := &syncBuffer{}
	p := newChild(t, "crash", cfg(), slog.New(slog.NewTextHandler(logs, nil)))
	res, err := p.Process(t.Context(), recs(`{"n":1}`))
	require.NoError(t, err)
	first := pidOf(t, res)

	_, err = p.Process(t.Context(), recs(`{"n":2}`)) // the child exits 3 on its second batch
	require.Error(t, err)
	require.ErrorContains(t, err, "exit status 3")

	res, err = p.Process(t.Context(), recs(`{"n":3}`))
	require.NoError(t, err, "a new child took over")
	require.NotEqual(t, first, pidOf(t, res))

	require.NoError(t, p.Close(t.Context()))
	require.Contains(t, logs.String(), "child: giving up on batch 2", "the child's stderr goes to the log")
}

func TestExec_AHungChildIsKilledAtTheTimeout(t *testing.T) {
	c := cfg()
	c.Timeout = 100 * time.Millisecond
	p := newChild(t, "hang", c, nil)
	_, err := p.Process(t.Context(), recs(`{"n":1}`))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "killed")

	// The hung process is gone: no zombie, no orphan holding the pipes.
	e := p.inv.(*execInvoker)
	require.Nil(t, e.ch, "the child was forgotten")
	_, err = p.Process(t.Context(), recs(`{"n":2}`))
	require.ErrorIs(t, err, context.DeadlineExceeded, "the next call starts a fresh child (which hangs too)")
}

func TestExec_MalformedAnswer(t *testing.T) {
	p := newChild(t, "garbage", cfg(), nil)
	_, err := p.Process(t.Context(), recs(`{"n":1}`))
	require.ErrorIs(t, err, ErrJSONProcessing)
}

func TestExec_CloseStopsTheChild(t *testing.T) {
	p := newChild(t, "upper", cfg(), nil)
	res, err := p.Process(t.Context(), recs(`{"n":1}`))
	require.NoError(t, err)
	pid := pidOf(t, res)
	require.NoError(t, p.Close(t.Context()))
	var n int
	_, err = fmt.Sscan(pid, &n)
	require.NoError(t, err)
	require.True(t, errors.Is(syscall.Kill(n, 0), syscall.ESRCH), "the child process is gone after Close")
	_, err = p.Process(t.Context(), recs(`{"n":2}`))
	require.ErrorIs(t, err, errStopped)
}

func TestNewExec_Errors(t *testing.T) {
	_, err := NewExec(ExecConfig{})
	require.ErrorContains(t, err, "empty command")
	_, err = NewExec(ExecConfig{Command: []string{"./no-such-program"}, Dir: t.TempDir()})
	require.Error(t, err)
}

// testExecutable is this test binary, which runs as a child processor when
// childEnv is set.
func testExecutable(tb testing.TB) string {
	tb.Helper()
	exe, err := os.Executable()
	require.NoError(tb, err)
	return exe
}

// A child that writes something besides its answers (a debug line) is out
// of step with the contract: it is restarted rather than left to answer
// every later event with the previous event's response.
func TestExec_AStrayLineRestartsTheChild(t *testing.T) {
	p := newChild(t, "chatty", cfg(), nil)
	for range 3 {
		_, err := p.Process(t.Context(), recs(`{"n":1}`))
		require.ErrorIs(t, err, ErrJSONProcessing)
		require.ErrorContains(t, err, "restarting it")
	}
}

// Shards share one child: a call that waited for it gets its whole timeout.
func TestExec_TheTimeoutStartsWhenTheChildIsFree(t *testing.T) {
	c := cfg()
	c.Timeout = 2 * time.Second
	p := newChild(t, "slow", c, nil)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { _, errs[i] = p.Process(t.Context(), recs(`{"n":1}`)) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err, "three calls of 0.8 s each fit a 2 s timeout one after the other")
	}
}
