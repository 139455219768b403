package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/jetstream"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Stream backends: the local log (the embedded default) or NATS JetStream
// (several nodes). Each pipeline's stream is a streamCore for the doors,
// status and metrics, and a delivery.Stream for the runtime.

// streamCore is what the server needs of a pipeline's stream, whichever
// backend keeps it. *streams.Stream is one.
type streamCore interface {
	Append(ctx context.Context, recs []record.Record) error
	Shards() []streams.ShardInfo
	Stats() streams.StreamStats
	// Backlog is nil where the backend does not report it.
	Backlog(consumer string) []streams.ShardBacklog
	// Fault is why the stream cannot take records now, or nil.
	Fault() error
	Close() error
}

// openStreams opens every pipeline's stream on the configured backend.
func (a *app) openStreams(ctx context.Context) error {
	cfg := a.cfg
	if cfg.Server.StreamBackend.JetStream() {
		return a.openJetStreams(ctx)
	}
	budget := streams.NewBudget(int64(cfg.Server.Limits.MaxBacklogBytes))
	for _, p := range a.pipelines {
		s, err := streams.Open(ctx, streams.Options{
			Dir:       filepath.Join(cfg.Server.DataDir, p.name),
			Name:      p.name,
			Shards:    p.cfg.Stream.Shards,
			Retention: time.Duration(p.cfg.Stream.Retention),
			Consumers: p.consumers(),
			Budget:    budget,
			Logger:    a.log.With("pipeline", p.name),
		})
		if err != nil {
			return fmt.Errorf("open stream of pipeline %q: %w", p.name, err)
		}
		a.closers = append(a.closers, func(context.Context) error { return s.Close() })
		p.stream, p.source = s, delivery.Local(s)
	}
	return nil
}

func (p *pipeline) consumers() []string {
	names := make([]string, len(p.cfg.Destinations))
	for j, d := range p.cfg.Destinations {
		names[j] = d.Name
	}
	return names
}

func (a *app) openJetStreams(ctx context.Context) error {
	bc := a.cfg.Server.StreamBackend
	node := bc.Node
	if node == "" {
		node = defaultNode(a.cfg.Server.Listen)
	}
	b, err := jetstream.Connect(ctx, jetstream.Options{
		URLs: bc.URLs, Node: node, Replicas: bc.Replicas,
		LeaseTTL: bc.LeaseTTL.D(), PublishTimeout: bc.PublishTimeout.D(),
		NATS: natsOptions(a.cfg), Logger: a.log,
	})
	if err != nil {
		return err
	}
	a.closers = append(a.closers, func(context.Context) error { return b.Close() })
	a.cluster = b
	for _, p := range a.pipelines {
		s, err := b.OpenStream(ctx, jetstream.StreamOptions{
			Name:           p.name,
			Shards:         p.cfg.Stream.Shards,
			Retention:      time.Duration(p.cfg.Stream.Retention),
			MaxBytes:       int64(a.cfg.Server.Limits.MaxBacklogBytes),
			Consumers:      p.consumers(),
			MaxRecordBytes: int(a.cfg.Server.Limits.MaxRecordBytes),
		})
		if err != nil {
			return fmt.Errorf("open stream of pipeline %q: %w", p.name, err)
		}
		a.closers = append(a.closers, func(context.Context) error { return s.Close() })
		p.stream = jsCore{s: s, b: b}
		p.source, p.leases = delivery.JetStream(s)
	}
	a.log.Info("stream backend: NATS JetStream", "node", node, "urls", strings.Join(bc.URLs, ","), "replicas", bc.Replicas)
	return nil
}

// defaultNode names this node after its host and port, unique among
// nodes on different hosts or ports.
func defaultNode(listen string) string {
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(listen)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, host+"-"+port)
	return name[:min(len(name), 64)]
}

func natsOptions(cfg *configs.Config) []nats.Option {
	bc := cfg.Server.StreamBackend
	var out []nats.Option
	switch {
	case bc.CredentialsFile != "":
		out = append(out, nats.UserCredentials(cfg.Resolve(bc.CredentialsFile)))
	case bc.Token != "":
		out = append(out, nats.Token(bc.Token))
	case bc.User != "":
		out = append(out, nats.UserInfo(bc.User, bc.Password))
	}
	if bc.TLS.CAFile != "" {
		out = append(out, nats.RootCAs(cfg.Resolve(bc.TLS.CAFile)))
	}
	if bc.TLS.CertFile != "" {
		out = append(out, nats.ClientCert(cfg.Resolve(bc.TLS.CertFile), cfg.Resolve(bc.TLS.KeyFile)))
	}
	return out
}

// jsCore is a pipeline's stream on JetStream, seen as a streamCore.
type jsCore struct {
	s *jetstream.Stream
	b *jetstream.Backend
}

func (j jsCore) Append(ctx context.Context, recs []record.Record) error { return j.s.Append(ctx, recs) }
func (j jsCore) Fault() error                                           { return j.b.Connected() }
func (j jsCore) Close() error                                           { return j.s.Close() }

// Backlog is not reported on JetStream: records per shard would need a
// scan of the subject (docs/scaling.md).
func (j jsCore) Backlog(string) []streams.ShardBacklog { return nil }

func (j jsCore) Shards() []streams.ShardInfo {
	ids := j.s.ShardIDs()
	out := make([]streams.ShardInfo, len(ids))
	for i := range ids {
		index, id, start, end := j.s.ShardRange(i)
		out[i] = streams.ShardInfo{ID: id, Index: index, StartingHashKey: start, EndingHashKey: end}
	}
	return out
}

func (j jsCore) Stats() streams.StreamStats {
	st := j.s.Stats(context.Background())
	n := len(j.s.ShardIDs())
	return streams.StreamStats{
		Shards: n, OpenShards: n, Bytes: int64(st.Bytes),
		Appends: st.Appends, AppendedRecords: st.AppendedRecords, AppendedBytes: st.AppendedBytes,
	}
}

// checkBackend reports whether the JetStream cluster answers with the
// config's credentials (validate --check-connections): one line.
func checkBackend(ctx context.Context, cfg *configs.Config) (line string, ok bool) {
	if err := jetstream.Ping(ctx, cfg.Server.StreamBackend.URLs, natsOptions(cfg)...); err != nil {
		return fmt.Sprintf("stream backend: not ready: %v\n", err), false
	}
	return "stream backend: ok\n", true
}
