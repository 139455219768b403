package jetstream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/jetstream/jstest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// holder runs what the delivery runtime does with leases: for every
// wanted shard, acquire, work until revoked or lost, release, again.
type holder struct {
	b    *Backend
	mu   sync.Mutex
	held map[record.ShardID]bool
	wg   sync.WaitGroup
}

func hold(ctx context.Context, b *Backend, shards int) *holder {
	h := &holder{b: b, held: map[record.ShardID]bool{}}
	for i := range shards {
		sh := record.ShardID(fmt.Sprintf("shardId-%012d", i))
		h.wg.Go(func() {
			for ctx.Err() == nil {
				l, err := b.leases.Acquire(ctx, "p", "d", sh)
				if err != nil {
					return
				}
				h.set(sh, true)
				select {
				case <-l.Revoked():
				case <-l.Lost():
				case <-ctx.Done():
				}
				h.set(sh, false)
				l.Release()
			}
		})
	}
	return h
}

func (h *holder) set(sh record.ShardID, v bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v {
		h.held[sh] = true
	} else {
		delete(h.held, sh)
	}
}

func (h *holder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

func TestLeases_SpreadMoveAndRebalance(t *testing.T) {
	c := jstest.Start(t, 1)
	const shards, ttl = 6, 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	b1 := connect(t, c, "n1", ttl)
	h1 := hold(ctx, b1, shards)
	require.Eventually(t, func() bool { return h1.count() == shards }, 10*time.Second, 20*time.Millisecond, "a lone node takes every lease")

	// A second node joins: the first gives up half, the second takes it.
	ctx2, cancel2 := context.WithCancel(ctx)
	b2, err := Connect(ctx, Options{URLs: c.URLs(), Node: "n2", LeaseTTL: ttl})
	require.NoError(t, err)
	h2 := hold(ctx2, b2, shards)
	require.Eventually(t, func() bool { return h1.count() == 3 && h2.count() == 3 }, 10*time.Second, 20*time.Millisecond,
		"two nodes share the leases: %d and %d", h1.count(), h2.count())

	// The second node dies without a word: its leases expire and move.
	b2.leases.stopNoRelease()
	cancel2()
	start := time.Now()
	require.Eventually(t, func() bool { return h1.count() == shards }, 5*ttl, 20*time.Millisecond)
	moved := time.Since(start)
	t.Logf("a dead node's leases moved in %v (ttl %v)", moved, ttl)
	h2.wg.Wait()
	b2.nc.Close()

	// Never two holders of one lease at once.
	for sh := range h2.held {
		require.False(t, h1.held[sh] && h2.held[sh])
	}
}

func TestLeases_AcquireEndsWithContext(t *testing.T) {
	c := jstest.Start(t, 1)
	b1 := connect(t, c, "n1", 2*time.Second)
	b2 := connect(t, c, "n2", 2*time.Second)
	ctx := context.Background()
	l, err := b1.leases.Acquire(ctx, "p", "d", "shardId-000000000000")
	require.NoError(t, err)
	defer l.Release()
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = b2.leases.Acquire(short, "p", "d", "shardId-000000000000")
	require.ErrorIs(t, err, context.DeadlineExceeded, "a held lease is not handed to a second node")
}

// stopNoRelease stops renewing without giving anything back: a node that
// died.
func (m *leaseManager) stopNoRelease() {
	close(m.stopping)
	m.wg.Wait()
}

func TestLeases_CutOffFromNATSTheHolderStops(t *testing.T) {
	c := jstest.Start(t, 1)
	b := connect(t, c, "n1", 2*time.Second)
	l, err := b.leases.Acquire(context.Background(), "p", "d", "shardId-000000000000")
	require.NoError(t, err)
	defer l.Release()
	c.Stop(0)
	select {
	case <-l.Lost():
	case <-time.After(time.Minute):
		t.Fatal("a holder that cannot renew never gave its lease up")
	}
}
