package wasm

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// newProc starts a processor for a test module, closed with the test.
func newProc(t testing.TB, module string, opts ...func(*Config)) *Processor {
	t.Helper()
	cfg := Config{Module: modules[module], Cache: cache, Instances: 1, MemoryLimit: 64 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close(context.Background())) })
	return p
}

// rec builds a stream record whose partition key tells sdkmod what to do.
func rec(i int, key, data string) record.Record {
	return record.Record{
		ID:      record.NewID(7, 1, uint64(100+i)),
		Key:     key,
		Data:    []byte(data),
		Arrived: time.Date(2024, 3, 9, 17, 4, 5, 6e6, time.UTC),
		Meta:    map[string]string{"query.region": "eu"},
		Shard:   "shardId-000000000001",
		Seq:     uint64(100 + i),
	}
}

func TestSDKVerdicts(t *testing.T) {
	p := newProc(t, "sdkmod")
	in := []record.Record{
		rec(0, "echo", "hello"),
		rec(1, "keep", "as is"),
		rec(2, "upper", "shout"),
		rec(3, "inplace", "mutate"),
		rec(4, "drop", "gone"),
		rec(5, "fail", "bad"),
		rec(6, "keys", "k"),
		rec(7, "panic", "boom"),
		rec(8, "echo", ""),
	}
	orig := make([]string, len(in))
	for i := range in {
		orig[i] = string(in[i].Data)
	}
	res, err := p.Process(t.Context(), in)
	require.NoError(t, err)
	require.Len(t, res, len(in))

	ok := func(i int, data string) record.Record {
		t.Helper()
		require.Equal(t, transform.Ok, res[i].Status, "record %d: %v", i, res[i].Err)
		require.Len(t, res[i].Out, 1)
		out := res[i].Out[0]
		require.Equal(t, data, string(out.Data), "record %d", i)
		require.Equal(t, in[i].ID, out.ID)
		require.Equal(t, in[i].Shard, out.Shard)
		require.Equal(t, in[i].Seq, out.Seq)
		require.Equal(t, in[i].Arrived, out.Arrived)
		require.Equal(t, in[i].Key, out.Key)
		return out
	}
	ok(0, "hello")
	ok(1, "as is")
	ok(2, "SHOUT")
	ok(3, "MUTATE")
	require.Equal(t, transform.Dropped, res[4].Status)
	require.Equal(t, transform.Failed, res[5].Status)
	require.ErrorIs(t, res[5].Err, ErrProcessingFailed)
	require.ErrorContains(t, res[5].Err, "rejected: bad")
	keyed := ok(6, "k")
	require.Equal(t, map[string]string{
		"query.region":            "eu",
		record.LambdaKey("shard"): "shardId-000000000001",
		record.LambdaKey("seq"):   "106",
		record.LambdaKey("day"):   "2024-03-09",
		record.LambdaKey("id"):    in[6].ID,
	}, keyed.Meta)
	require.Equal(t, transform.Failed, res[7].Status, "a handler panic fails its record only")
	require.ErrorContains(t, res[7].Err, "handler panic on boom")
	ok(8, "")

	for i := range in { // the module got a copy: the input is untouched
		require.Equal(t, orig[i], string(in[i].Data))
	}
	require.Equal(t, map[string]string{"query.region": "eu"}, in[6].Meta, "input Meta is not modified")

	// Results of one batch share one buffer; appending to one must not
	// overwrite its neighbour.
	a := res[0].Out[0].Data
	_ = append(a, "XXXXXXXX"...)
	require.Equal(t, "SHOUT", string(res[2].Out[0].Data))
}

func TestEmptyBatch(t *testing.T) {
	p := newProc(t, "sdkmod")
	res, err := p.Process(t.Context(), nil)
	require.NoError(t, err)
	require.Empty(t, res)
}

// TestHostile runs every misbehaviour of the hostile module through one
// single-instance processor; after each failure a good batch must still
// work, which proves the failed instance was replaced.
func TestHostile(t *testing.T) {
	// Only the loop waits for its deadline; the others get a generous one
	// so that a slow machine (or -race) cannot turn them into timeouts.
	fast := newProc(t, "hostile", func(c *Config) { c.Timeout = 500 * time.Millisecond })
	slow := newProc(t, "hostile", func(c *Config) { c.Timeout = time.Minute })
	tests := []struct {
		behaviour string
		want      error
		notWant   error
		msg       string
	}{
		{"loop", ErrTimeout, ErrTrap, "did not return within"},
		{"alloc", ErrMemoryLimit, nil, "out of memory"},
		{"panic", ErrTrap, ErrMemoryLimit, "hostile module panics"},
		{"exit", ErrTrap, nil, "exited with code 3"},
		{"exit0", ErrTrap, nil, "exited with code 0"},
		{"dup", ErrRecordID, ErrMalformed, "returned twice"},
		{"missing", ErrRecordID, ErrMalformed, "2 verdicts for 3 records"},
		{"unknown", ErrRecordID, ErrMalformed, `unknown record id "no-such-id"`},
		{"garbage", ErrMalformed, nil, "bad magic"},
		{"truncated", ErrMalformed, nil, "runs past the end"},
		{"trailing", ErrMalformed, nil, "trailing bytes"},
		{"keys-on-drop", ErrMalformed, nil, "partition keys on a Dropped verdict"},
		{"bad-status", ErrMalformed, nil, "unknown status 9"},
		{"version", ErrMalformed, nil, "frame version 2"},
		{"oob", ErrMalformed, nil, "outside the module's"},
		{"batch-error", ErrBatchFailed, ErrMalformed, "upstream lookup table missing"},
	}
	good := []record.Record{rec(0, "", "fine"), rec(1, "", "fine")}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			p := slow
			if tt.want == ErrTimeout {
				p = fast
			}
			in := []record.Record{rec(0, "", tt.behaviour), rec(1, "", "x"), rec(2, "", "y")}
			res, err := p.Process(t.Context(), in)
			require.ErrorIs(t, err, tt.want, "%v", err)
			if tt.notWant != nil {
				require.NotErrorIs(t, err, tt.notWant)
			}
			require.ErrorContains(t, err, tt.msg)
			require.ErrorContains(t, err, "hostile.wasm", "errors name the module")
			require.Nil(t, res)

			res, err = p.Process(t.Context(), good)
			require.NoError(t, err, "the next batch gets a healthy instance")
			require.Len(t, res, 2)
			require.Equal(t, transform.Ok, res[1].Status)
		})
	}
}

func TestCallerContextIsNotATimeout(t *testing.T) {
	p := newProc(t, "hostile", func(c *Config) { c.Timeout = time.Hour })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := p.Process(ctx, []record.Record{rec(0, "", "loop")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrTimeout)
}

func TestBatchLargerThanMemoryLimit(t *testing.T) {
	p := newProc(t, "sdkmod", func(c *Config) { c.MemoryLimit = 32 << 20 })
	in := []record.Record{rec(0, "echo", strings.Repeat("x", 33<<20))}
	_, err := p.Process(t.Context(), in)
	require.ErrorIs(t, err, ErrMemoryLimit)
	require.ErrorContains(t, err, "input frame is")
}

func TestBatchExhaustsModuleMemory(t *testing.T) {
	// The frame fits the limit, but the module cannot hold it and a copy.
	p := newProc(t, "sdkmod", func(c *Config) { c.MemoryLimit = 32 << 20 })
	in := []record.Record{rec(0, "upper", strings.Repeat("x", 20<<20))}
	_, err := p.Process(t.Context(), in)
	require.ErrorIs(t, err, ErrMemoryLimit, "%v", err)
	require.ErrorIs(t, err, ErrTrap)
	res, err := p.Process(t.Context(), []record.Record{rec(0, "upper", "small")})
	require.NoError(t, err)
	require.Equal(t, "SMALL", string(res[0].Out[0].Data))
}

func TestConcurrentBatches(t *testing.T) {
	p := newProc(t, "sdkmod", func(c *Config) { c.Instances = 2 })
	const workers, batches, size = 6, 5, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches)
	for w := range workers {
		wg.Go(func() {
			for b := range batches {
				in := make([]record.Record, size)
				for i := range in {
					in[i] = rec(i, "upper", fmt.Sprintf("w%d-b%d-r%d", w, b, i))
				}
				res, err := p.Process(t.Context(), in)
				if err != nil {
					errs <- err
					continue
				}
				for i := range in {
					if got, want := res[i].Out[0].Data, bytes.ToUpper(in[i].Data); !bytes.Equal(got, want) {
						errs <- fmt.Errorf("worker %d batch %d record %d: %q, want %q", w, b, i, got, want)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	require.LessOrEqual(t, len(p.idle), 2, "the pool never grows past Instances")
}

func TestClose(t *testing.T) {
	p, err := New(t.Context(), Config{Module: modules["sdkmod"], Cache: cache, Instances: 1})
	require.NoError(t, err)
	require.NoError(t, p.Close(t.Context()))
	require.NoError(t, p.Close(t.Context()), "Close is idempotent")
	_, err = p.Process(t.Context(), []record.Record{rec(0, "echo", "x")})
	require.ErrorIs(t, err, record.ErrClosed)
}

func TestCloseWaitsForRunningCall(t *testing.T) {
	p, err := New(t.Context(), Config{Module: modules["hostile"], Cache: cache, Instances: 1, Timeout: time.Hour})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	defer cancel()
	go func() {
		_, err := p.Process(ctx, []record.Record{rec(0, "", "loop")})
		done <- err
	}()
	for len(p.tokens) == 0 { // until the call holds the only instance
		runtime.Gosched()
	}
	// Close cannot take the token while the loop runs; with an expired
	// context it closes the runtime under the call, which must then end.
	closeCtx, closeCancel := context.WithCancel(t.Context())
	closeCancel()
	require.ErrorIs(t, p.Close(closeCtx), context.Canceled)
	require.Error(t, <-done)
}
