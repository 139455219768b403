package sinktest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// memSink is a reference sink for the suite itself: it stores each batch
// under its identity, replacing what an earlier attempt stored (as an
// object sink names objects by it), rejects records marked bad, and can
// be broken or misconfigured.
type memSink struct {
	mu       sync.Mutex
	objects  map[record.BatchID][]record.Record
	broken   atomic.Bool
	misconf  bool
	closed   bool
	inFlight atomic.Int32
}

var errDown = errors.New("mem: down")

func (m *memSink) Write(ctx context.Context, b *record.Batch) error {
	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.misconf {
		return sinks.Permanent(errors.New("mem: misconfigured"))
	}
	if m.broken.Load() {
		return errDown
	}
	failed := map[int]error{}
	var keep []record.Record
	for i, r := range b.Records {
		if r.Meta["bad"] != "" {
			failed[i] = sinks.Permanent(record.WithErrorType(errors.New("bad record"), record.ProcessingFailed))
			continue
		}
		r.Data = append([]byte(nil), r.Data...)
		keep = append(keep, r)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return record.ErrClosed
	}
	if m.objects == nil {
		m.objects = map[record.BatchID][]record.Record{}
	}
	if len(keep) > 0 {
		m.objects[b.ID()] = keep
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

func (m *memSink) Check(ctx context.Context) error {
	switch {
	case m.misconf:
		return errors.New("mem: misconfigured")
	case m.broken.Load():
		return errDown
	}
	return ctx.Err()
}

func (m *memSink) Close(context.Context) error {
	if n := m.inFlight.Load(); n != 0 {
		return errors.New("mem: Close with Writes in flight")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mem: closed twice")
	}
	m.closed = true
	return nil
}

func (m *memSink) read(*testing.T) []Delivered {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivered
	for id, recs := range m.objects {
		for _, r := range recs {
			out = append(out, Delivered{Data: r.Data, Where: id.String()})
		}
	}
	return out
}

func TestRun_ReferenceSink(t *testing.T) {
	Run(t, Harness{
		Open: func(t *testing.T) *Target {
			m := &memSink{}
			return &Target{
				Sink: m,
				Read: m.read,
				Break: func(*testing.T) func() {
					m.broken.Store(true)
					return func() { m.broken.Store(false) }
				},
			}
		},
		Record: func(r *record.Record, p int) {
			r.Meta = map[string]string{"p": string(rune('a' + p))}
		},
		Partitions:    2,
		Bad:           func(r *record.Record) { r.Meta = map[string]string{"bad": "1"} },
		BadType:       record.ProcessingFailed,
		Misconfigured: func(*testing.T) sinks.Sink { return &memSink{misconf: true} },
	})
}

func TestBatchHelpers(t *testing.T) {
	recs := Records(Shard(3), 10, 3, 2)
	require.Len(t, recs, 6)
	for i, r := range recs {
		require.Equal(t, Shard(3), r.Shard)
		require.Equal(t, uint64(10+i/2), r.Seq)
		require.Equal(t, uint32(i%2), r.Sub)
		require.Equal(t, record.NewID(streamID, 3, r.Seq), r.ID)
		require.Equal(t, Epoch.Add(time.Duration(r.Seq)*time.Millisecond), r.Arrived)
	}
	require.Equal(t, recs[0].ID, recs[1].ID, "sub-records share their source record's id")
	require.NotEqual(t, recs[0].Data, recs[1].Data, "every record's data is distinct")

	bs := Cut(recs, 4)
	require.Len(t, bs, 2)
	require.Equal(t, record.BatchID{Pipeline: Pipeline, Destination: Destination, Shard: Shard(3),
		First: record.Position{Seq: 10}, Last: record.Position{Seq: 11, Sub: 1}}, bs[0].ID())
	require.Equal(t, record.BatchID{Pipeline: Pipeline, Destination: Destination, Shard: Shard(3),
		First: record.Position{Seq: 12}, Last: record.Position{Seq: 12, Sub: 1}}, bs[1].ID())

	r := Retry(bs[0], 1, 3)
	require.Equal(t, bs[0].ID(), r.ID())
	require.Equal(t, []record.Record{recs[1], recs[3]}, r.Records)

	require.Nil(t, Pending(bs[0], nil))
	require.Same(t, bs[0], Pending(bs[0], errDown))
	require.Nil(t, Pending(bs[0], sinks.Permanent(errDown)))
	p := Pending(bs[0], &sinks.BatchError{Failed: map[int]error{0: sinks.Permanent(errDown), 2: errDown}})
	require.Equal(t, bs[0].ID(), p.ID())
	require.Equal(t, []record.Record{recs[2]}, p.Records)
	require.Nil(t, Pending(bs[0], &sinks.BatchError{Failed: map[int]error{0: sinks.Permanent(errDown)}}))
}

func TestLinesAndCanon(t *testing.T) {
	got := Lines([]byte("a\nb\n\nc"), "k")
	require.Equal(t, []Delivered{{[]byte("a\n"), "k"}, {[]byte("b\n"), "k"}, {[]byte("\n"), "k"}, {[]byte("c"), "k"}}, got)
	require.Empty(t, Lines(nil, "k"))

	require.Equal(t, canon([]byte(`{"b":1,"a":[2.0, "x"]}`+"\n")), canon([]byte(`{"a":[2.0,"x"], "b":1}`)))
	require.NotEqual(t, canon([]byte(`{"a":1}`)), canon([]byte(`{"a":"1"}`)))
	require.Equal(t, "not json\n", canon([]byte("not json\n")))
	require.Equal(t, `{"a":1} {"b":2}`, canon([]byte(`{"a":1} {"b":2}`)), "two documents are not one")
}

func TestProxy_BreakAndRestore(t *testing.T) {
	// An echo server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { _, _ = io.Copy(c, c); _ = c.Close() })
		}
	})

	p := NewProxy(t, ln.Addr().String())
	echo := func(c net.Conn) error {
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line != "ping\n" {
			err = errors.New("echo: " + line)
		}
		return err
	}
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, echo(c))

	restore := p.Break(t)
	require.Error(t, echo(c), "an open connection is cut")
	_, err = net.DialTimeout("tcp", p.Addr(), time.Second)
	require.Error(t, err, "new connections are refused")

	restore()
	restore() // idempotent
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, echo(c2), "the same address answers again")
}
