package jetstream

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hydrant-io/hydrant/streams/record"
)

// Leases hand each (pipeline, destination, shard) to one node at a time,
// the KCL lease table on JetStream's key-value store: a lease is the key
// lease.<pipeline>.<destination>.<shard> holding its owner's name. The
// bucket's TTL removes entries that are not rewritten, so an owner renews
// its leases every TTL/4, and the leases of a dead node vanish after about
// one TTL, when others create them anew. Every node also rewrites
// node.<name>; the number of those is how many share the work, and each
// node takes at most its fair share, ceil(leases / nodes). A node above
// its share (a node joined) revokes its surplus: the runtime flushes and
// commits what it holds of those shards and releases them, and the
// others pick them up on their next round.

// Lease is one held (pipeline, destination, shard).
type Lease struct {
	m                    *leaseManager
	key                  string
	order                uint64 // this node's preference among free leases
	granted              chan struct{}
	revoked              chan struct{} // closed: hand over (flush, commit, release)
	lost                 chan struct{} // closed: no longer ours, stop at once
	revokeOnce, loseOnce sync.Once
	// deadline fires half a TTL after the last renewal: the entry may
	// expire half a TTL later, so writing stops before another node can
	// hold the lease. A timer, so that no key-value call can delay it.
	deadline *time.Timer

	// Guarded by m.mu.
	held, revoking, gone bool
	rev                  uint64
}

func (l *Lease) revoke() { l.revokeOnce.Do(func() { close(l.revoked) }) }
func (l *Lease) lose()   { l.loseOnce.Do(func() { close(l.lost) }) }

// isLost reports whether the lease was lost (its deadline passed).
func (l *Lease) isLost() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// Revoked is closed when the node should hand the lease over: stop
// reading, flush and commit, then Release.
func (l *Lease) Revoked() <-chan struct{} { return l.revoked }

// Lost is closed when the lease is no longer this node's: another node
// may deliver the shard already, so writing must stop at once.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release gives the lease back (deleting it, so another node can take it
// at once) and forgets it.
func (l *Lease) Release() { l.m.release(l) }

type leaseManager struct {
	kv       jetstream.KeyValue
	node     string
	ttl      time.Duration
	log      *slog.Logger
	kick     chan struct{}
	stopping chan struct{}
	wg       sync.WaitGroup

	mu    sync.Mutex
	wants map[string]*Lease // by key: what this node's runtime waits for or holds
	nodes int               // live nodes seen in the last round
}

func newLeaseManager(kv jetstream.KeyValue, node string, ttl time.Duration, log *slog.Logger) *leaseManager {
	return &leaseManager{kv: kv, node: node, ttl: ttl, log: log, kick: make(chan struct{}, 1),
		stopping: make(chan struct{}), wants: map[string]*Lease{}, nodes: 1}
}

func leaseKey(pipeline, destination string, shard record.ShardID) string {
	return "lease." + token(pipeline) + "." + token(destination) + "." + string(shard)
}

// Acquire waits until this node holds the lease of pipeline's
// destination on shard, or ctx ends.
func (m *leaseManager) Acquire(ctx context.Context, pipeline, destination string, shard record.ShardID) (*Lease, error) {
	key := leaseKey(pipeline, destination, shard)
	h := fnv.New64a()
	_, _ = h.Write([]byte(m.node + "\x00" + key))
	l := &Lease{m: m, key: key, order: h.Sum64(), granted: make(chan struct{}), revoked: make(chan struct{}), lost: make(chan struct{})}
	m.mu.Lock()
	if _, dup := m.wants[key]; dup {
		m.mu.Unlock()
		return nil, fmt.Errorf("jetstream: lease %s is already wanted", key)
	}
	m.wants[key] = l
	m.mu.Unlock()
	m.poke()
	select {
	case <-l.granted:
		return l, nil
	case <-ctx.Done():
		l.Release()
		return nil, ctx.Err()
	case <-m.stopping:
		l.Release()
		return nil, errors.New("jetstream: lease manager stopped")
	}
}

func (m *leaseManager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *leaseManager) start() { m.wg.Go(m.loop) }

// stop ends the manager; leases still held are deleted so that other
// nodes take them at once.
func (m *leaseManager) stop() {
	close(m.stopping)
	m.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), m.ttl/2)
	defer cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.wants {
		if l.held {
			_ = m.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
		}
		m.forgetLocked(l)
	}
	_ = m.kv.Delete(ctx, "node."+m.node)
}

func (m *leaseManager) release(l *Lease) {
	m.mu.Lock()
	if l.held {
		ctx, cancel := context.WithTimeout(context.Background(), m.ttl/4)
		if err := m.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev)); err != nil {
			m.log.Debug("release lease", "lease", l.key, "err", err)
		}
		cancel()
	}
	m.forgetLocked(l)
	m.mu.Unlock()
	m.poke()
}

// forgetLocked drops l from wants; its channels end, so nobody waits on it.
func (m *leaseManager) forgetLocked(l *Lease) {
	if l.gone {
		return
	}
	l.gone, l.held = true, false
	if m.wants[l.key] == l {
		delete(m.wants, l.key)
	}
	if l.deadline != nil {
		l.deadline.Stop()
	}
	l.revoke()
	l.lose()
}

func (m *leaseManager) loop() {
	round := m.ttl / 4
	t := time.NewTicker(round)
	defer t.Stop()
	for {
		m.round()
		select {
		case <-m.stopping:
			return
		case <-t.C:
		case <-m.kick:
			// A new want or a release: act now, but not in a tight loop.
			select {
			case <-m.stopping:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// round renews, counts nodes, gives up a surplus and takes free leases up
// to the fair share. The lock is held throughout, so that Acquire and
// Release see a settled state; every key-value call has its own time
// limit, and renewals run concurrently, so that a slow cluster delays a
// round by one call, not one per lease.
func (m *leaseManager) round() {
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx, cancel := m.call()
	_, err := m.kv.Put(ctx, "node."+m.node, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	cancel()
	if err != nil {
		m.log.Warn("lease heartbeat", "err", err)
	}
	var renew, held, free []*Lease
	for _, l := range m.wants {
		switch {
		case !l.held:
			free = append(free, l)
		case l.isLost():
			// Not renewed in time: give it back (if it has not expired
			// yet), so that another node need not wait for the TTL.
			m.log.Warn("lease not renewed in time, given up", "lease", l.key)
			ctx, cancel := m.call()
			_ = m.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
			cancel()
			m.forgetLocked(l)
		default:
			renew = append(renew, l)
		}
	}
	revs, errs := make([]uint64, len(renew)), make([]error, len(renew))
	var wg sync.WaitGroup
	for i, l := range renew {
		wg.Go(func() {
			ctx, cancel := m.call()
			defer cancel()
			revs[i], errs[i] = m.kv.Update(ctx, l.key, []byte(m.node), l.rev)
		})
	}
	wg.Wait()
	for i, l := range renew {
		err := errs[i]
		if errors.Is(err, jetstream.ErrKeyExists) {
			// The revision moved. If the entry still names this node, it
			// was our own renewal whose answer was lost: adopt it (the
			// deadline stays where it was).
			if rev, mine := m.mine(l.key); mine {
				l.rev = rev
				held = appendUnlessRevoking(held, l)
				continue
			}
		}
		switch {
		case err == nil:
			l.rev = revs[i]
			l.deadline.Reset(m.ttl / 2)
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			m.log.Warn("lease lost", "lease", l.key, "err", err)
			m.forgetLocked(l)
			continue
		default:
			m.log.Warn("renew lease", "lease", l.key, "err", err)
		}
		held = appendUnlessRevoking(held, l)
	}
	if n, err := m.countNodes(); err == nil {
		m.nodes = max(n, 1)
	}
	fair := (len(m.wants) + m.nodes - 1) / m.nodes
	// Surplus: revoke those this node likes least.
	slices.SortFunc(held, cmpOrder)
	for len(held) > fair {
		l := held[len(held)-1]
		held = held[:len(held)-1]
		l.revoking = true
		l.revoke()
	}
	// Shortfall: create free leases, most liked first.
	slices.SortFunc(free, cmpOrder)
	for _, l := range free {
		if len(held) >= fair {
			break
		}
		ctx, cancel := m.call()
		rev, err := m.kv.Create(ctx, l.key, []byte(m.node))
		cancel()
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Another node's, or ours from a create whose answer was
			// lost (or from this node's previous process, which is gone).
			var mine bool
			if rev, mine = m.mine(l.key); !mine {
				continue
			}
			err = nil
		}
		if err != nil {
			m.log.Warn("acquire lease", "lease", l.key, "err", err)
			break
		}
		l.held, l.rev = true, rev
		l.deadline = time.AfterFunc(m.ttl/2, l.lose)
		held = append(held, l)
		close(l.granted)
	}
}

// call is the time limit of one key-value call.
func (m *leaseManager) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), m.ttl/4)
}

// mine reports whether key's entry names this node, and its revision.
func (m *leaseManager) mine(key string) (uint64, bool) {
	ctx, cancel := m.call()
	defer cancel()
	e, err := m.kv.Get(ctx, key)
	if err != nil || string(e.Value()) != m.node {
		return 0, false
	}
	return e.Revision(), true
}

func appendUnlessRevoking(held []*Lease, l *Lease) []*Lease {
	if l.revoking {
		return held
	}
	return append(held, l)
}

func cmpOrder(a, b *Lease) int {
	switch {
	case a.order < b.order:
		return -1
	case a.order > b.order:
		return 1
	}
	return strings.Compare(a.key, b.key)
}

func (m *leaseManager) countNodes() (int, error) {
	ctx, cancel := m.call()
	defer cancel()
	lister, err := m.kv.ListKeysFiltered(ctx, "node.*")
	if err != nil {
		return 0, err
	}
	defer func() { _ = lister.Stop() }()
	n := 0
	for range lister.Keys() {
		n++
	}
	return n, nil
}

// LeaseInfo is one lease as the cluster sees it. Its JSON is part of the
// status API (docs/status-api.md).
type LeaseInfo struct {
	Pipeline    string         `json:"pipeline"`
	Destination string         `json:"destination"`
	Shard       record.ShardID `json:"shard"`
	Owner       string         `json:"owner"`
}

// View is the cluster's state as the key-value store has it now.
type View struct {
	// Node is the node that answers.
	Node string `json:"node"`
	// Nodes are the nodes whose heartbeat is live.
	Nodes []string `json:"nodes"`
	// Leases are the leases held, by anyone.
	Leases []LeaseInfo `json:"leases"`
}

// Held lists the shards of pipeline's destination whose lease this node
// holds.
func (b *Backend) Held(pipeline, destination string) []record.ShardID {
	prefix := leaseKey(pipeline, destination, "")
	m := b.leases
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []record.ShardID{}
	for k, l := range m.wants {
		if l.held && strings.HasPrefix(k, prefix) {
			out = append(out, record.ShardID(k[len(prefix):]))
		}
	}
	slices.Sort(out)
	return out
}

// Cluster reads every live node and every held lease.
func (b *Backend) Cluster(ctx context.Context) (View, error) {
	v := View{Node: b.opts.Node, Nodes: []string{}, Leases: []LeaseInfo{}}
	lister, err := b.leases.kv.ListKeys(ctx)
	if err != nil {
		return v, fmt.Errorf("jetstream: list leases: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	for k := range lister.Keys() {
		parts := strings.Split(k, ".")
		switch {
		case len(parts) == 2 && parts[0] == "node":
			v.Nodes = append(v.Nodes, parts[1])
		case len(parts) == 4 && parts[0] == "lease":
			e, err := b.leases.kv.Get(ctx, k)
			if err != nil {
				continue // expired or released meanwhile
			}
			v.Leases = append(v.Leases, LeaseInfo{
				Pipeline: strings.ReplaceAll(parts[1], "=", "."), Destination: parts[2],
				Shard: record.ShardID(parts[3]), Owner: string(e.Value()),
			})
		}
	}
	slices.Sort(v.Nodes)
	slices.SortFunc(v.Leases, func(a, b LeaseInfo) int {
		return strings.Compare(a.Pipeline+"\x00"+a.Destination+"\x00"+string(a.Shard), b.Pipeline+"\x00"+b.Destination+"\x00"+string(b.Shard))
	})
	return v, nil
}

// Lease waits until this node holds the lease of destination on shard.
func (s *Stream) Lease(ctx context.Context, destination string, shard record.ShardID) (*Lease, error) {
	return s.b.leases.Acquire(ctx, s.opts.Name, destination, shard)
}
