//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
)

// pgConfig writes a configuration with one pipeline "events" of shards
// shards and one postgres destination "db" into table; columns is the
// destination's columns: mapping (flow style). Failed records go to the
// directory store "errors" at dir/errors, which pgConfig creates.
func pgConfig(t *testing.T, dir, addr string, shards int, table, columns string) string {
	t.Helper()
	errs := filepath.Join(dir, "errors")
	require.NoError(t, os.MkdirAll(errs, 0o755))
	return writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  wh: { type: postgres, dsn: %q }
  errors: { type: directory, path: %s }
pipelines:
  - name: events
    stream: { shards: %d }
    destinations:
      - name: db
        type: postgres
        store: wh
        table: %s
        columns: %s
        buffer: { size: 1MiB, interval: 1s }
        retry: { duration: 1h }
        backup: { store: errors }
`, addr, filepath.Join(dir, "data"), pgtest.DSN(), errs, shards, table, columns))
}

// pgStatus is the part of GET /v1/pipelines/{name} the postgres tests read.
type pgStatus struct {
	Destinations []struct {
		Name    string `json:"name"`
		Backlog []struct {
			Shard   string `json:"shard"`
			Records int64  `json:"records"`
		} `json:"backlog"`
		Stats struct {
			DeliveredRecords int64            `json:"delivered_records"`
			FailedAttempts   int64            `json:"failed_attempts"`
			BackedUp         map[string]int64 `json:"backed_up_records"`
		} `json:"stats"`
	} `json:"destinations"`
}

// pending is the records the destinations have not committed yet.
func (s pgStatus) pending() int64 {
	var n int64
	for _, d := range s.Destinations {
		for _, b := range d.Backlog {
			n += b.Records
		}
	}
	return n
}

// pgGetStatus reads the pipeline's status; ok is false when the server
// did not answer (it may be busy with the race detector on).
func pgGetStatus(addr, pipeline string) (pgStatus, bool) {
	var st pgStatus
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/v1/pipelines/" + pipeline)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, false
	}
	return st, json.NewDecoder(resp.Body).Decode(&st) == nil
}

// pgIDCounts returns how many rows of table hold each id.
func pgIDCounts(ctx context.Context, pool *pgxpool.Pool, table string) (map[string]int, error) {
	rows, err := pool.Query(ctx, `SELECT id, count(*) FROM `+table+` GROUP BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// pgBackup is one failed record in the backup store, with its object key.
type pgBackup struct {
	Key string
	backupLine
}

// pgBackups reads every failed record under root.
func pgBackups(t *testing.T, root string) []pgBackup {
	t.Helper()
	var out []pgBackup
	for _, o := range readLake(t, root) {
		for _, l := range o.Lines {
			var b pgBackup
			require.NoError(t, json.Unmarshal(l, &b.backupLine), string(l))
			b.Key = o.Key
			out = append(out, b)
		}
	}
	return out
}

// pgLoad sends records {"id","p","round","body"} with ids r0000000..
// up to limit over both doors and tracks which were acknowledged.
type pgLoad struct {
	limit int

	mu    sync.Mutex
	next  int // the next id to send
	acked map[string]bool
	// failures says why requests were not wholly acknowledged.
	failures []string
}

func newPGLoad(limit int) *pgLoad { return &pgLoad{limit: limit, acked: map[string]bool{}} }

// take reserves up to n ids below upTo; ok is false when none is left.
func (l *pgLoad) take(n, upTo int) (from, to int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	upTo = min(upTo, l.limit)
	if l.next >= upTo {
		return 0, 0, false
	}
	from = l.next
	to = min(from+n, upTo)
	l.next = to
	return from, to, true
}

// stop lets the producers finish the requests they are sending and send
// no more.
func (l *pgLoad) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = l.next
}

// failed returns why requests were not wholly acknowledged.
func (l *pgLoad) failed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failures...)
}

func (l *pgLoad) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

func (l *pgLoad) ackedIDs() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.acked))
	for id := range l.acked {
		out[id] = true
	}
	return out
}

func pgID(i int) string { return fmt.Sprintf("r%07d", i) }

// run sends with producers concurrent producers, even ones through
// PutRecordBatch and odd ones through the NDJSON door, until ids below
// upTo are all sent or ctx ends. pause is slept between requests. A
// producer stops at its first request not wholly acknowledged.
func (l *pgLoad) run(ctx context.Context, addr string, producers, round, upTo int, pause time.Duration) {
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			fh := firehoseClient(addr)
			for ctx.Err() == nil {
				from, to, ok := l.take(100, upTo)
				if !ok {
					return
				}
				ids := make([]string, 0, to-from)
				lines := make([]string, 0, to-from)
				for i := from; i < to; i++ {
					id := pgID(i)
					ids = append(ids, id)
					lines = append(lines, fmt.Sprintf(`{"id":%q,"p":%d,"round":%d,"body":"record %s of producer %d"}`, id, p, round, id, p))
				}
				var ackedHere []string
				why := ""
				if p%2 == 0 {
					recs := make([]types.Record, len(lines))
					for i, line := range lines {
						recs[i] = types.Record{Data: []byte(line)}
					}
					out, err := fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("events"), Records: recs},
						func(o *firehose.Options) { o.RetryMaxAttempts = 1 })
					switch {
					case err != nil:
						why = fmt.Sprintf("PutRecordBatch: %v", err)
					case len(out.RequestResponses) != len(ids):
						why = fmt.Sprintf("PutRecordBatch: %d responses for %d records", len(out.RequestResponses), len(ids))
					default:
						for i, r := range out.RequestResponses {
							if r.ErrorCode == nil {
								ackedHere = append(ackedHere, ids[i])
							} else if why == "" {
								why = fmt.Sprintf("PutRecordBatch entry: %s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
							}
						}
					}
				} else {
					resp, body, err := putNDJSON(ctx, addr, "events", lines)
					switch {
					case err != nil:
						why = fmt.Sprintf("NDJSON: %v", err)
					case resp.StatusCode != http.StatusOK:
						why = fmt.Sprintf("NDJSON: %s: %s", resp.Status, body)
					default:
						ackedHere = ids
					}
				}
				l.mu.Lock()
				for _, id := range ackedHere {
					l.acked[id] = true
				}
				if why != "" {
					l.failures = append(l.failures, fmt.Sprintf("producer %d, ids %s..%s: %s", p, ids[0], ids[len(ids)-1], why))
				}
				l.mu.Unlock()
				if len(ackedHere) < len(ids) {
					// The server is gone (killed): a producer that went on
					// would use up ids on requests nobody receives.
					return
				}
				if pause > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
			}
		})
	}
	wg.Wait()
}

// pgWaitDelivered waits until the server has nothing left to deliver and
// every id of acked is in table, then returns the id counts of the table.
func pgWaitDelivered(t *testing.T, pool *pgxpool.Pool, addr, table string, acked map[string]bool) map[string]int {
	t.Helper()
	return waitDelivered(t, addr, table, acked, func() (map[string]int, error) {
		return pgIDCounts(t.Context(), pool, table)
	})
}

// waitDelivered waits until the pipeline "events" has nothing left to
// deliver and every id of want is among what count reads from the
// destination (id -> copies), then returns that.
func waitDelivered(t *testing.T, addr, where string, want map[string]bool, count func() (map[string]int, error)) map[string]int {
	t.Helper()
	var last string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, ok := pgGetStatus(addr, "events")
		if ok && st.pending() == 0 {
			counts, err := count()
			if err == nil {
				missing := 0
				for id := range want {
					if counts[id] == 0 {
						missing++
					}
				}
				if missing == 0 {
					return counts
				}
				last = fmt.Sprintf("%d of %d wanted ids not delivered", missing, len(want))
			} else {
				last = err.Error()
			}
		} else {
			last = fmt.Sprintf("status answered=%v pending=%d", ok, st.pending())
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for every wanted record in %s: %s", where, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// killNineRounds sends total records through load while killing the
// server at a random moment of each of kills rounds (the round's share of
// the records partly sent, flushes in flight) and restarting it on the
// same data directory; it then sends the rest to a last server, which it
// returns running, with the acknowledged ids.
func killNineRounds(t *testing.T, cfg, addr string, load *pgLoad, kills, producers, total int, pause time.Duration) (*server, map[string]bool) {
	t.Helper()
	for round := range kills {
		srv := startServer(t, cfg, addr)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		// Each round may send its share; what it does not is left to later rounds.
		upTo := total * (round + 1) / (kills + 1)
		go func() {
			defer close(done)
			load.run(ctx, addr, producers, round, upTo, pause)
		}()
		prev := total * round / (kills + 1)
		at := prev + (upTo-prev)*(30+rand.IntN(60))/100
		waitFor(t, time.Minute, fmt.Sprintf("%d records sent", at), func() bool { return load.sent() >= at })
		time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
		srv.kill()
		cancel()
		<-done
		t.Logf("round %d: killed after %d sent, %d acknowledged", round, load.sent(), len(load.ackedIDs()))
	}
	srv := startServer(t, cfg, addr)
	load.run(t.Context(), addr, producers, kills, total, 0)
	require.Equal(t, total, load.sent())
	acked := load.ackedIDs()
	require.NotEmpty(t, acked)
	return srv, acked
}

// outageDuringLoad runs load (already started) for 2 s, stops a service
// with `scripts/services.sh stop` for 5 s, starts it with `start`, lets
// the load run 3 s more and stops it; it returns how many records were
// acknowledged before, during and after the outage.
func outageDuringLoad(t *testing.T, load *pgLoad, stop, start string) (before, during, after int) {
	t.Helper()
	time.Sleep(2 * time.Second)
	before = len(load.ackedIDs())
	out, err := pgServices(stop)
	require.NoError(t, err, out)
	time.Sleep(5 * time.Second)
	during = len(load.ackedIDs()) - before
	out, err = pgServices(start)
	require.NoError(t, err, out)
	time.Sleep(3 * time.Second)
	load.stop()
	after = len(load.ackedIDs()) - before - during
	t.Logf("acknowledged before the outage=%d during=%d after=%d", before, during, after)
	for _, f := range load.failed() {
		t.Logf("not acknowledged: %s", f)
	}
	return before, during, after
}

// pgRequireExactlyOnce checks the table against the acknowledged and the
// sent ids and that nothing went to the backup; it returns the duplicates.
func pgRequireExactlyOnce(t *testing.T, counts map[string]int, acked map[string]bool, sent int, errs string) (rows, dups int) {
	t.Helper()
	valid := map[string]bool{}
	for i := range sent {
		valid[pgID(i)] = true
	}
	for id, n := range counts {
		require.True(t, valid[id], "row with an id never sent: %q", id)
		rows += n
		dups += n - 1
	}
	for id := range acked {
		require.Equal(t, 1, counts[id], "acknowledged id %s", id)
	}
	require.Zero(t, dups, "ids loaded more than once")
	backups := pgBackups(t, errs)
	for i, b := range backups {
		if i >= 5 {
			break
		}
		t.Logf("backup %s: %s: %s", b.Key, b.ErrorCode, b.ErrorMessage)
	}
	require.Empty(t, backups, "no record goes to the backup")
	return rows, dups
}

// pgServices runs scripts/services.sh with args.
func pgServices(args ...string) (string, error) {
	out, err := exec.Command("../scripts/services.sh", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
