//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/iceberg/icetest"
	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
	"github.com/hydrant-io/hydrant/streams/jetstream/jstest"
)

// Several Hydrant processes on one embedded 3-node NATS JetStream cluster
// (replicas 3, lease TTL 3 s): a node killed with SIGKILL, a NATS server
// stopped, a node added, all under load. Every acknowledged record must be
// delivered; duplicates are counted (a dead node's written but uncommitted
// batches), and are zero in PostgreSQL, whose sink is exactly once.

const jsLeaseTTL = 3 * time.Second

type jsCluster struct {
	t      *testing.T
	nats   *jstest.Cluster
	dir    string
	lake   string
	table  string // "" = no postgres destination
	ice    *icetest.Warehouse
	iceTbl string // "" = no iceberg destination
	shards int
	mu     sync.Mutex
	nodes  []*jsNode
}

type jsNode struct {
	name string
	addr string
	p    *proc
	dead bool
}

// newJSCluster prepares a cluster whose pipeline delivers to a directory
// ("lake") and, when named in with, to "postgres" and "iceberg" (both
// exactly once).
func newJSCluster(t *testing.T, shards int, with ...string) *jsCluster {
	c := &jsCluster{t: t, nats: jstest.Start(t, 3), dir: t.TempDir(), shards: shards}
	c.lake = filepath.Join(c.dir, "lake")
	if slices.Contains(with, "postgres") {
		admin := pgtest.Admin(t)
		schema := pgtest.Schema(t, admin)
		c.table = schema + ".events"
		_, err := admin.Exec(t.Context(), `CREATE TABLE `+c.table+` (id bigint NOT NULL, body text)`)
		require.NoError(t, err)
	}
	if slices.Contains(with, "iceberg") {
		c.ice = icetest.NewWarehouse(t)
		c.iceTbl = c.ice.Namespace(t) + ".events"
		require.NoError(t, os.WriteFile(filepath.Join(c.dir, "events.yaml"), []byte("columns:\n  - { name: id, type: int64 }\n  - { name: body, type: string }\n"), 0o644))
	}
	return c
}

// start starts node name (a new process on a new port).
func (c *jsCluster) start(name string) *jsNode {
	t := c.t
	addr := freeAddr(t)
	dir := filepath.Join(c.dir, name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	db := ""
	if c.table != "" {
		db = fmt.Sprintf(`
      - name: db
        type: postgres
        store: wh
        table: %s
        columns: { id: .id, body: .body }
        buffer: { size: 1MiB, interval: 1s }
        retry: { duration: 1h }
        backup: { store: errors }`, c.table)
	}
	stores := ""
	if c.ice != nil {
		s3 := c.ice.Config("", c.ice.S3HostPort()).S3
		stores = fmt.Sprintf(`
  s3: { type: s3, endpoint: %q, access_key_id: %q, secret_access_key: %q, path_style: true }
  %s: { type: iceberg, catalog: sql, uri: %q, warehouse: %q, store: s3 }`,
			s3.Endpoint, s3.AccessKeyID, s3.SecretAccessKey, icetest.CatalogName, pgtest.DSN(), c.ice.Location)
		db += fmt.Sprintf(`
      - name: ice
        type: iceberg
        store: %s
        table: %s
        format: { type: parquet, schema: %s }
        buffer: { size: 1MiB, interval: 1s }
        retry: { duration: 1h }
        backup: { store: errors }`, icetest.CatalogName, c.iceTbl, filepath.Join(c.dir, "events.yaml"))
	}
	cfg := writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
  stream_backend:
    type: jetstream
    urls: [%s]
    replicas: 3
    node: %s
    lease_ttl: %s
stores:
  lake: { type: directory, path: %s }
  errors: { type: directory, path: %s }
  wh: { type: postgres, dsn: %q }%s
pipelines:
  - name: events
    stream: { shards: %d, partition_key: .user }
    processors:
      - type: append_delimiter
    destinations:
      - name: lake
        type: directory
        store: lake
        buffer: { size: 1MiB, interval: 1s }
        retry: { duration: 1h }
        backup: { store: errors }%s
`, addr, filepath.Join(dir, "data"), strings.Join(c.nats.URLs(), ", "), name, jsLeaseTTL,
		c.lake, filepath.Join(c.dir, "errors"), pgtest.DSN(), stores, c.shards, db))
	n := &jsNode{name: name, addr: addr, p: startHydrant(t, binary, cfg, addr)}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

// kill9 kills a node's process at once.
func (c *jsCluster) kill9(n *jsNode) {
	c.mu.Lock()
	n.dead = true
	c.mu.Unlock()
	require.NoError(c.t, n.p.cmd.Process.Signal(syscall.SIGKILL))
	<-n.p.done
	n.p.done <- nil // for the cleanup's wait
}

// live returns the addresses of the live nodes.
func (c *jsCluster) live() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.nodes {
		if !n.dead {
			out = append(out, n.addr)
		}
	}
	return out
}

type jsView struct {
	Nodes  []string `json:"nodes"`
	Leases []struct {
		Destination string `json:"destination"`
		Shard       string `json:"shard"`
		Owner       string `json:"owner"`
	} `json:"leases"`
}

// view asks a live node for the cluster's view.
func (c *jsCluster) view() (jsView, error) {
	var v jsView
	live := c.live()
	if len(live) == 0 {
		return v, fmt.Errorf("no live node")
	}
	resp, err := http.Get("http://" + live[0] + "/v1/cluster")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return v, fmt.Errorf("%s: %s", resp.Status, b)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// owners counts the leases per owner; every (destination, shard) must be
// leased for the map to be complete.
func (c *jsCluster) owners() (map[string]int, int) {
	v, err := c.view()
	if err != nil {
		return nil, 0
	}
	out := map[string]int{}
	for _, l := range v.Leases {
		out[l.Owner]++
	}
	return out, len(v.Leases)
}

func (c *jsCluster) destinations() int {
	n := 1
	if c.table != "" {
		n++
	}
	if c.iceTbl != "" {
		n++
	}
	return n
}

// jsLoad sends records {"id":N,"user":"uK","body":...} in batches of 100
// through the batch door of the live nodes in turn. A batch that is not
// acknowledged is sent again (to the next node) until it is: a producer
// that retries, as Firehose clients do.
type jsLoad struct {
	mu      sync.Mutex
	next    int
	total   int
	acked   map[int]bool
	retries int
}

func (l *jsLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *jsLoad) run(ctx context.Context, c *jsCluster, producers int, pause time.Duration) {
	const batch = 100
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			turn := p
			for ctx.Err() == nil {
				l.mu.Lock()
				from := l.next
				if from >= l.total {
					l.mu.Unlock()
					return
				}
				to := min(from+batch, l.total)
				l.next = to
				l.mu.Unlock()
				var body bytes.Buffer
				for i := from; i < to; i++ {
					fmt.Fprintf(&body, `{"id":%d,"user":"u%d","body":"%s"}`+"\n", i, i%101, strings.Repeat("x", 200))
				}
				for ctx.Err() == nil {
					live := c.live()
					addr := live[turn%len(live)]
					turn++
					req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+"/v1/streams/events/records", bytes.NewReader(body.Bytes()))
					resp, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							l.mu.Lock()
							for i := from; i < to; i++ {
								l.acked[i] = true
							}
							l.mu.Unlock()
							break
						}
					}
					l.mu.Lock()
					l.retries++
					l.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(pause)
			}
		})
	}
	wg.Wait()
}

// lakeCounts counts each id in the directory destination's objects.
func lakeCounts(root string) (map[int]int, error) {
	counts := map[int]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var r struct {
				ID int `json:"id"`
			}
			if err := dec.Decode(&r); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			counts[r.ID]++
		}
		return nil
	})
	if os.IsNotExist(err) {
		return counts, nil
	}
	return counts, err
}

func pgCounts(ctx context.Context, pool *pgxpool.Pool, table string) (map[int]int, error) {
	rows, err := pool.Query(ctx, `SELECT id, count(*) FROM `+table+` GROUP BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[int(id)] = n
	}
	return out, rows.Err()
}

// waitAllDelivered waits until every acknowledged id is in counts() and
// returns the final counts and the number of duplicate copies.
func waitAllDelivered(t *testing.T, what string, acked map[int]bool, counts func() (map[int]int, error)) (map[int]int, int) {
	t.Helper()
	var got map[int]int
	var missing int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var err error
		got, err = counts()
		require.NoError(t, err)
		missing = 0
		for id := range acked {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d acknowledged records never delivered", what, missing, len(acked))
		}
		time.Sleep(250 * time.Millisecond)
	}
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	return got, dups
}

func TestJetStream_KillNodeMidLoad(t *testing.T) {
	c := newJSCluster(t, 6, "postgres", "iceberg")
	for i := 1; i <= 3; i++ {
		c.start(fmt.Sprintf("node-%d", i))
	}
	wantLeases := c.shards * c.destinations()
	waitFor(t, 30*time.Second, "leases spread over 3 nodes", func() bool {
		o, n := c.owners()
		return n == wantLeases && len(o) == 3
	})
	load := &jsLoad{total: 60_000, acked: map[int]bool{}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { load.run(ctx, c, 4, 20*time.Millisecond); close(done) }()

	waitFor(t, time.Minute, "a third of the load acknowledged", func() bool { return load.ackedCount() >= load.total/3 })
	victim := c.nodes[2]
	c.kill9(victim)
	killed := time.Now()
	waitFor(t, 10*jsLeaseTTL, "the dead node's leases moved", func() bool {
		o, n := c.owners()
		return n == wantLeases && o[victim.name] == 0
	})
	moved := time.Since(killed)
	<-done

	acked := map[int]bool{}
	for id := range load.acked {
		acked[id] = true
	}
	require.Len(t, acked, load.total, "every batch was eventually acknowledged")
	lake, lakeDups := waitAllDelivered(t, "lake", acked, func() (map[int]int, error) { return lakeCounts(c.lake) })
	for id, n := range lake {
		require.LessOrEqual(t, n, 2, "id %d: one kill redelivers a record at most once", id)
	}
	pool, err := pgxpool.New(t.Context(), pgtest.DSN())
	require.NoError(t, err)
	defer pool.Close()
	db, dbDups := waitAllDelivered(t, "postgres", acked, func() (map[int]int, error) { return pgCounts(t.Context(), pool, c.table) })
	require.Zero(t, dbDups, "postgres is exactly once across a lease move")
	require.Len(t, db, load.total)
	ice, iceDups := waitAllDelivered(t, "iceberg", acked, func() (map[int]int, error) {
		counts := map[int]int{}
		for _, row := range c.ice.Rows(t, c.iceTbl) {
			id, ok := row["id"].(int64)
			if !ok {
				return nil, fmt.Errorf("id %v is a %T", row["id"], row["id"])
			}
			counts[int(id)]++
		}
		return counts, nil
	})
	require.Zero(t, iceDups, "iceberg is exactly once across a lease move")
	require.Len(t, ice, load.total)
	t.Logf("kill -9 of 1 of 3 nodes: %d records acknowledged (%d producer retries); leases moved %.1fs after the kill (ttl %s); lake duplicates %d (%.2f%%); postgres duplicates %d; iceberg duplicates %d",
		len(acked), load.retries, moved.Seconds(), jsLeaseTTL, lakeDups, 100*float64(lakeDups)/float64(len(acked)), dbDups, iceDups)
}

func TestJetStream_NATSServerDownMidLoad(t *testing.T) {
	c := newJSCluster(t, 4)
	c.start("node-1")
	c.start("node-2")
	load := &jsLoad{total: 40_000, acked: map[int]bool{}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { load.run(ctx, c, 4, 20*time.Millisecond); close(done) }()

	waitFor(t, time.Minute, "a third of the load acknowledged", func() bool { return load.ackedCount() >= load.total/3 })
	c.nats.Stop(0)
	before := load.ackedCount()
	waitFor(t, time.Minute, "appends go on with 2 of 3 NATS servers", func() bool { return load.ackedCount() >= before+5000 })
	c.nats.Restart(0)
	<-done

	acked := map[int]bool{}
	for id := range load.acked {
		acked[id] = true
	}
	require.Len(t, acked, load.total)
	lake, dups := waitAllDelivered(t, "lake", acked, func() (map[int]int, error) { return lakeCounts(c.lake) })
	for id, n := range lake {
		require.LessOrEqual(t, n, 2, "id %d", id)
	}
	t.Logf("NATS server 1 of 3 stopped mid-load and restarted: %d records acknowledged (%d producer retries), lake duplicates %d", len(acked), load.retries, dups)
}

func TestJetStream_AddNodesRebalance(t *testing.T) {
	c := newJSCluster(t, 6)
	c.start("node-1")
	wantLeases := c.shards * c.destinations()
	waitFor(t, 30*time.Second, "one node holds every lease", func() bool {
		o, n := c.owners()
		return n == wantLeases && o["node-1"] == wantLeases
	})
	load := &jsLoad{total: 40_000, acked: map[int]bool{}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { load.run(ctx, c, 4, 20*time.Millisecond); close(done) }()

	waitFor(t, time.Minute, "a quarter of the load acknowledged", func() bool { return load.ackedCount() >= load.total/4 })
	added := time.Now()
	c.start("node-2")
	c.start("node-3")
	waitFor(t, 10*jsLeaseTTL, "leases spread over 3 nodes", func() bool {
		o, n := c.owners()
		return n == wantLeases && o["node-1"] == 2 && o["node-2"] == 2 && o["node-3"] == 2
	})
	spread := time.Since(added)
	<-done

	acked := map[int]bool{}
	for id := range load.acked {
		acked[id] = true
	}
	require.Len(t, acked, load.total)
	_, dups := waitAllDelivered(t, "lake", acked, func() (map[int]int, error) { return lakeCounts(c.lake) })
	require.Zero(t, dups, "a handover flushes and commits before the lease moves, so nothing is written twice")
	t.Logf("2 nodes added mid-load: leases spread 2/2/2 %.1fs after the second node started; %d records, 0 duplicates", spread.Seconds(), len(acked))
}

// The dashboard of a node names the node and the shards it leases, the
// same as its /v1/pipelines.
func TestJetStream_DashboardShowsTheNodesLeases(t *testing.T) {
	c := newJSCluster(t, 4)
	n1 := c.start("node-1")
	c.start("node-2")
	waitFor(t, 30*time.Second, "leases spread over 2 nodes", func() bool {
		o, n := c.owners()
		return n == 4 && o["node-1"] == 2 && o["node-2"] == 2
	})
	ctx := browser(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate("http://"+n1.addr+"/ui"),
		chromedp.WaitVisible(`[data-metric="connection"][data-value="live"]`),
	))
	waitFor(t, 30*time.Second, "the page shows node-1 and its 2 leases", func() bool {
		m := pageMetrics(t, ctx, "node", "leases")
		return m["node"] == "node-1" && m["leases"] == "2"
	})
	visible, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('[data-metric="leases"]').hidden`))
	require.NoError(t, err)
	require.True(t, visible, "the leases line is shown on a clustered node")
}
