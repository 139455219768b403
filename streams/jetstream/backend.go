package jetstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for Options.
const (
	DefaultLeaseTTL       = 10 * time.Second
	DefaultPublishTimeout = 10 * time.Second
)

// Bucket names on the cluster.
const (
	checkpointBucket = "hydrant-checkpoints"
	leaseBucket      = "hydrant-leases"
)

// Options configure a Backend.
type Options struct {
	// URLs of the NATS servers (required).
	URLs []string
	// Node names this Hydrant node in leases; unique per node (required).
	Node string
	// Replicas of every stream and bucket; default 1.
	Replicas int
	// LeaseTTL is how long a lease lives without renewal; default
	// DefaultLeaseTTL. A dead node's shards move after about this long.
	LeaseTTL time.Duration
	// PublishTimeout bounds how long an append waits for JetStream's
	// acknowledgement, retries included; default DefaultPublishTimeout.
	PublishTimeout time.Duration
	// NATS are extra connection options: credentials, TLS.
	NATS []nats.Option
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
}

// Backend is one node's connection to the cluster: its streams share it,
// and its lease manager hands out this node's part of the delivery work.
type Backend struct {
	opts   Options
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	cps    jetstream.KeyValue
	leases *leaseManager
	// msgPrefix makes message ids unique per process: JetStream drops a
	// publish whose id it saw within its duplicate window, which makes our
	// own retries of an unacknowledged publish safe.
	msgPrefix string

	mu      sync.Mutex
	streams map[string]*Stream
}

// Connect connects to the cluster, creates the buckets if needed and
// starts the lease manager.
func Connect(ctx context.Context, opts Options) (*Backend, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("jetstream: no server URLs")
	}
	if !validToken(opts.Node) {
		return nil, fmt.Errorf("jetstream: invalid node name %q", opts.Node)
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger.With("node", opts.Node)
	nopts := append([]nats.Option{
		nats.Name("hydrant " + opts.Node),
		// Keep trying while servers restart; appends fail meanwhile with
		// backpressure and producers retry.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "server", c.ConnectedUrlRedacted()) }),
	}, opts.NATS...)
	nc, err := nats.Connect(strings.Join(opts.URLs, ","), nopts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: connect to %s: %w", strings.Join(opts.URLs, ","), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	b := &Backend{opts: opts, log: log, nc: nc, js: js, streams: map[string]*Stream{},
		msgPrefix: opts.Node + "-" + hex.EncodeToString(nonce[:]) + "-"}
	b.cps, err = retrySetup(ctx, func() (jetstream.KeyValue, error) {
		return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: checkpointBucket, Description: "Hydrant delivery checkpoints",
			History: 1, Replicas: opts.Replicas, Storage: jetstream.FileStorage,
		})
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: checkpoint bucket: %w", err)
	}
	kv, err := retrySetup(ctx, func() (jetstream.KeyValue, error) {
		return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: leaseBucket, Description: "Hydrant delivery leases and node heartbeats",
			History: 1, Replicas: opts.Replicas, Storage: jetstream.FileStorage, TTL: opts.LeaseTTL,
		})
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: lease bucket: %w", err)
	}
	b.leases = newLeaseManager(kv, opts.Node, opts.LeaseTTL, log)
	b.leases.start()
	return b, nil
}

// Node is this node's name.
func (b *Backend) Node() string { return b.opts.Node }

// Close stops the lease manager (giving back every lease still held) and
// closes the connection. Close the streams first.
func (b *Backend) Close() error {
	b.leases.stop()
	if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		b.nc.Close()
		return fmt.Errorf("jetstream: close: %w", err)
	}
	return nil
}

// Connected reports whether the connection is up, for readiness.
func (b *Backend) Connected() error {
	if b.nc.IsConnected() {
		return nil
	}
	return fmt.Errorf("not connected to NATS (%s)", b.nc.Status())
}

// token makes a name usable as one subject token, stream name part or
// key-value key part: '.' separates tokens, so it becomes '=' (which
// Hydrant names never contain).
func token(name string) string { return strings.ReplaceAll(name, ".", "=") }

// validToken reports whether s is a non-empty name of letters, digits,
// '-' and '_'.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Ping connects, asks JetStream for the account's limits and disconnects:
// whether the cluster answers with these credentials.
func Ping(ctx context.Context, urls []string, opts ...nats.Option) error {
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", strings.Join(urls, ","), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// setupWait bounds how long creating buckets and streams is retried.
const setupWait = 60 * time.Second

// retrySetup retries a create-or-update call that timed out or found no
// placement: nodes started together on a new cluster race to create the
// same buckets, and a cluster just formed may not place replicas yet.
func retrySetup[T any](ctx context.Context, call func() (T, error)) (T, error) {
	deadline := time.Now().Add(setupWait)
	wait := 250 * time.Millisecond
	for {
		v, err := call()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return v, err
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && !strings.Contains(apiErr.Description, "peer") {
			return v, err // a refusal that waiting will not change
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
