package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// Backup receives what a destination could not deliver. Its writes are
// retried by the runtime without limit.
type Backup interface {
	// WriteFailed stores failed records under the error output prefix for
	// errorType (e.g. "processing-failed").
	WriteFailed(ctx context.Context, errorType string, failed []sinks.Failed) error
	// WriteSource stores source records as they were read (backup mode all).
	WriteSource(ctx context.Context, b *record.Batch) error
}

// Destination is one sink of a pipeline with everything needed to feed it.
type Destination struct {
	// Name is the destination's name in the config; it names its checkpoints.
	Name string
	// ErrorType is the error output type used when the sink itself fails
	// after its retry window, e.g. "s3-failed".
	ErrorType string
	// Sink receives processed batches.
	Sink sinks.Sink
	// Processors run in order on each chunk read from the stream, before
	// buffering (dynamic partitioning needs the keys they produce).
	Processors []transform.Processor
	// Policy decides when a buffer flushes.
	Policy buffer.Policy
	// Retry is how long a failing sink is retried before records go to the
	// backup. Zero means one attempt.
	Retry time.Duration
	// Backup receives failed records; required.
	Backup Backup
	// BackupAll also writes every source record before processing.
	BackupAll bool
	// MaxPartitions caps the active partitions (buffers holding records)
	// per shard; a record that would open one more goes to the backup as
	// active-partition-exceeded. Default 500, Firehose's default
	// (buffer.Limits.MaxPartitions).
	MaxPartitions int
	// MaxBufferedBytes caps the bytes buffered over all partitions of one
	// shard; past it the biggest partitions flush early, so memory stays
	// bounded with thousands of partitions. Default 32 MiB, and never less
	// than one full buffer (Policy.MaxBytes); see buffer.Limits.MaxBytes.
	MaxBufferedBytes int64
	// MaxInFlight caps concurrent sink writes per shard when several
	// partitions flush at once. Default 8.
	MaxInFlight int
}

func (d *Destination) maxInFlight() int {
	if d.MaxInFlight > 0 {
		return d.MaxInFlight
	}
	return 8
}

// Options configure a Pipeline.
type Options struct {
	// Name is the pipeline (Firehose delivery stream) name.
	Name string
	// Stream is the pipeline's stream (Local for the local log).
	Stream Stream
	// Leases, when set, share the work with other nodes: a (destination,
	// shard) is delivered only while this node holds its lease. Nil: this
	// node delivers every shard (the local log).
	Leases Leaser
	// Destinations each read the stream with their own checkpoints.
	Destinations []*Destination
	// Logger; default discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ReadBytes caps one read from the stream; default 1 MiB.
	ReadBytes int
	// DrainTimeout bounds the final flush after Run's context is cancelled;
	// default 30s. What is not delivered by then stays in the stream and is
	// delivered after the next start.
	DrainTimeout time.Duration
	// Backoff returns the wait before retry attempt n (1-based); default
	// exponential from 500ms to 30s with jitter.
	Backoff func(n int) time.Duration
	// ProcessorRetries is how often a processor call that failed as a whole
	// is retried before its records fail as processing-failed; default 3,
	// like Firehose's Lambda NumberOfRetries.
	ProcessorRetries int
}

// Pipeline delivers one stream to its destinations.
type Pipeline struct {
	opts  Options
	log   *slog.Logger
	stats map[string]*Stats
}

// New checks opts and builds a Pipeline; Run starts it.
func New(opts Options) (*Pipeline, error) {
	if opts.Stream == nil {
		return nil, errors.New("delivery: no stream")
	}
	if len(opts.Destinations) == 0 {
		return nil, fmt.Errorf("delivery: pipeline %q has no destinations", opts.Name)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadBytes <= 0 {
		opts.ReadBytes = 1 << 20
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.ProcessorRetries <= 0 {
		opts.ProcessorRetries = 3
	}
	p := &Pipeline{opts: opts, log: opts.Logger.With("pipeline", opts.Name), stats: map[string]*Stats{}}
	for _, d := range opts.Destinations {
		if d.Sink == nil || d.Backup == nil {
			return nil, fmt.Errorf("delivery: destination %q needs a sink and a backup", d.Name)
		}
		if _, dup := p.stats[d.Name]; dup {
			return nil, fmt.Errorf("delivery: destination %q twice", d.Name)
		}
		p.stats[d.Name] = newStats()
	}
	return p, nil
}

// DefaultBackoff waits 500ms·2^(n-1), capped at 30s, with ±20% jitter.
func DefaultBackoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 6)
	d = min(d, 30*time.Second)
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// Stats returns the live counters of a destination (nil if unknown).
func (p *Pipeline) Stats(destination string) *Stats { return p.stats[destination] }

// Run delivers until ctx is cancelled, then stops reading, flushes what is
// buffered (bounded by DrainTimeout), commits and returns. It returns nil on
// a clean stop.
func (p *Pipeline) Run(ctx context.Context) error {
	// hard is cancelled DrainTimeout after ctx: sinks and backups stop then.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(p.opts.DrainTimeout, cancelHard)
		context.AfterFunc(hard, func() { t.Stop() })
	})
	defer stop()

	var wg sync.WaitGroup
	started := map[string]bool{}
	startNew := func() {
		for _, sh := range p.opts.Stream.Shards() {
			for _, d := range p.opts.Destinations {
				k := d.Name + "\x00" + string(sh)
				if started[k] {
					continue
				}
				started[k] = true
				if l := p.opts.Leases; l != nil {
					wg.Go(func() { p.runLeased(ctx, hard, l, d, sh) })
					continue
				}
				w := &worker{p: p, d: d, shard: sh, stats: p.stats[d.Name]}
				wg.Go(func() { w.run(ctx, hard) })
			}
		}
	}
	for {
		changed := p.opts.Stream.ShardsChanged()
		startNew()
		select {
		case <-changed:
		case <-ctx.Done():
			wg.Wait()
			return nil
		}
	}
}

// runLeased works on d's shard while this node holds its lease: a
// handover (revoked) drains like a stop, a lost lease stops like the hard
// stop. Then it waits for the lease again, until ctx ends.
func (p *Pipeline) runLeased(ctx, hard context.Context, l Leaser, d *Destination, sh record.ShardID) {
	for ctx.Err() == nil {
		lease, err := l.Lease(ctx, d.Name, sh)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("lease", "destination", d.Name, "shard", sh, "err", err)
				_ = sleep(ctx, time.Second)
			}
			continue
		}
		p.log.Info("lease acquired", "destination", d.Name, "shard", sh)
		soft, stopSoft := context.WithCancel(ctx)
		firm, stopFirm := context.WithCancel(hard)
		go func() {
			select {
			case <-lease.Revoked():
				stopSoft()
			case <-lease.Lost():
				stopSoft()
				stopFirm()
			case <-soft.Done():
				select {
				case <-lease.Lost():
					stopFirm()
				case <-firm.Done():
				}
			}
		}()
		w := &worker{p: p, d: d, shard: sh, stats: p.stats[d.Name]}
		w.run(soft, firm)
		stopSoft()
		stopFirm()
		lease.Release()
		p.log.Info("lease released", "destination", d.Name, "shard", sh)
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
