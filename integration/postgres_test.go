//go:build integration

package integration

import (
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks/postgres/pgtest"
)

// pgEventColumns maps the load's records onto pgEventTable's columns.
const pgEventColumns = `{ id: .id, producer: .p, round: .round, body: .body }`

// pgEventTable creates schema.events with a unique id, so that a record
// loaded twice would be refused (and backed up) instead of duplicated.
func pgEventTable(t *testing.T, admin *pgxpool.Pool, schema string) string {
	t.Helper()
	table := schema + ".events"
	_, err := admin.Exec(t.Context(), `CREATE TABLE `+table+` (id text PRIMARY KEY, producer integer NOT NULL, round integer NOT NULL, body text)`)
	require.NoError(t, err)
	return table
}

// TestPostgres_KillNineExactlyOnce sends 100,000 records over both doors
// into a 2-shard pipeline loading a table with a unique id, killing the
// server with SIGKILL at random moments and restarting it on the same data
// dir; at the end every acknowledged record is in the table exactly once
// and nothing was refused into the backup.
func TestPostgres_KillNineExactlyOnce(t *testing.T) {
	const (
		total     = 100_000
		kills     = 6
		producers = 6
	)
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t, admin)
	table := pgEventTable(t, admin, schema)
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := pgConfig(t, dir, addr, 2, table, pgEventColumns)

	load := newPGLoad(total)
	srv, acked := killNineRounds(t, cfg, addr, load, kills, producers, total, 0)

	counts := pgWaitDelivered(t, admin, addr, table, acked)
	require.NoError(t, srv.stop())
	rows, dups := pgRequireExactlyOnce(t, counts, acked, total, filepath.Join(dir, "errors"))
	for i, f := range load.failed() {
		if i < 8 {
			t.Logf("not acknowledged: %s", f)
		}
	}

	var shards int
	require.NoError(t, admin.QueryRow(t.Context(), `SELECT count(*) FROM `+schema+`.hydrant_checkpoints`).Scan(&shards))
	t.Logf("kills=%d sent=%d acknowledged=%d rows=%d distinct ids=%d duplicates=%d unacknowledged but loaded=%d checkpoint rows=%d",
		kills, total, len(acked), rows, len(counts), dups, len(counts)-len(acked), shards)
	require.Equal(t, 2, shards, "both shards loaded")
}

// TestPostgres_OutageLosesNothingTwice stops PostgreSQL for about 5 s while
// records keep arriving: the server keeps accepting them, and once the
// database is back every acknowledged record is in the table exactly once.
func TestPostgres_OutageLosesNothingTwice(t *testing.T) {
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t, admin)
	table := pgEventTable(t, admin, schema)
	// Registered after Schema: cleanups run last first, so PostgreSQL is
	// up again before the schema is dropped, even when the test fails.
	t.Cleanup(func() {
		if out, err := pgServices("postgres-start"); err != nil {
			t.Errorf("restart PostgreSQL: %v\n%s", err, out)
		}
	})
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := pgConfig(t, dir, addr, 2, table, pgEventColumns)
	srv := startServer(t, cfg, addr)

	// Paced load, running until stopped: before, during and after the outage.
	load := newPGLoad(1_000_000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		load.run(t.Context(), addr, 4, 0, 1_000_000, 100*time.Millisecond)
	}()
	defer load.stop() // a failed require below must not leave the load running

	before, during, after := outageDuringLoad(t, load, "postgres-stop", "postgres-start")
	<-done
	acked := load.ackedIDs()
	sent := load.sent()
	require.Positive(t, before)
	require.Positive(t, during, "records are accepted while PostgreSQL is down")
	require.Positive(t, after)

	// A pool opened after the restart: the admin pool's connections died.
	pool, err := pgxpool.New(t.Context(), pgtest.DSN())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	counts := pgWaitDelivered(t, pool, addr, table, acked)
	st, _ := pgGetStatus(addr, "events")
	require.NoError(t, srv.stop())
	rows, dups := pgRequireExactlyOnce(t, counts, acked, sent, filepath.Join(dir, "errors"))
	var failed int64
	if len(st.Destinations) > 0 {
		failed = st.Destinations[0].Stats.FailedAttempts
	}
	t.Logf("sent=%d acknowledged=%d rows=%d duplicates=%d failed attempts=%d", sent, len(acked), rows, dups, failed)
	require.Positive(t, failed, "the outage made deliveries fail and retry")
}

// TestPostgres_BadValuesGoToBackupWithTheColumn sends good records and
// records that do not fit the typed table: the good ones are loaded, each
// bad one is in the backup under postgres-failed with the column and the
// reason in its message and its raw data intact.
func TestPostgres_BadValuesGoToBackupWithTheColumn(t *testing.T) {
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t, admin)
	table := schema + ".typed"
	_, err := admin.Exec(t.Context(), `CREATE TABLE `+table+` (id text PRIMARY KEY, n integer NOT NULL CONSTRAINT n_not_negative CHECK (n >= 0), name varchar(5))`)
	require.NoError(t, err)
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := pgConfig(t, dir, addr, 1, table, `{ id: .id, n: .n, name: .name }`)
	startServer(t, cfg, addr)

	good := []string{
		`{"id":"g1","n":1,"name":"abc"}`,
		`{"id":"g2","n":2,"name":"abcde"}`,
		`{"id":"g3","n":3}`,
	}
	// bad maps each bad record to what its error message must contain.
	bad := map[string][]string{
		`{"id":"b1","n":"abc","name":"x"}`:      {"column n:"},
		`{"id":"b2","name":"x"}`:                {"column n:", "NOT NULL"},
		`{"id":"b3","n":3,"name":"tenchars10"}`: {"column name:"},
		// Fits every type but PostgreSQL's CHECK refuses it during the COPY.
		`{"id":"b4","n":-1,"name":"x"}`: {"refused by PostgreSQL", "n_not_negative"},
	}
	lines := append([]string{}, good...)
	for l := range bad {
		lines = append(lines, l)
	}
	rand.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	resp, body, err := putNDJSON(t.Context(), addr, "events", lines)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	errs := filepath.Join(dir, "errors")
	var backups []pgBackup
	waitFor(t, time.Minute, "the bad records in the backup", func() bool {
		backups = pgBackups(t, errs)
		return len(backups) >= len(bad)
	})
	counts := pgWaitDelivered(t, admin, addr, table, map[string]bool{"g1": true, "g2": true, "g3": true})
	require.Equal(t, map[string]int{"g1": 1, "g2": 1, "g3": 1}, counts, "only the good records are loaded")

	require.Len(t, backups, len(bad))
	for _, b := range backups {
		raw, err := base64.StdEncoding.DecodeString(b.RawData)
		require.NoError(t, err)
		want, ok := bad[string(raw)]
		require.True(t, ok, "backed up record is one of the bad ones, byte for byte: %q", raw)
		delete(bad, string(raw))
		require.True(t, strings.HasPrefix(b.Key, "postgres-failed/"), "key %s", b.Key)
		require.Equal(t, "db", b.Destination)
		for _, w := range want {
			require.Contains(t, b.ErrorMessage, w, "record %s", raw)
		}
		t.Logf("%s -> %s: %s: %s", raw, b.Key, b.ErrorCode, b.ErrorMessage)
	}
	require.Empty(t, bad, "every bad record backed up once")
}

// TestPostgres_ValidateCheck: validate --check-connections accepts a
// table with every mapped column and refuses, naming the column, a
// mapping of a column the table lacks.
func TestPostgres_ValidateCheck(t *testing.T) {
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t, admin)
	table := schema + ".checked"
	_, err := admin.Exec(t.Context(), `CREATE TABLE `+table+` (id text, n integer)`)
	require.NoError(t, err)

	validate := func(columns string) (string, error) {
		dir := t.TempDir()
		cfg := pgConfig(t, dir, freeAddr(t), 1, table, columns)
		out, err := exec.Command(binary, "validate", "--check-connections", "--config", cfg).CombinedOutput()
		return string(out), err
	}

	out, err := validate(`{ id: .id, n: .n }`)
	require.NoError(t, err, out)
	t.Logf("complete table:\n%s", out)

	out, err = validate(`{ id: .id, n: .n, missing_col: .m }`)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out)
	require.NotZero(t, ee.ExitCode(), out)
	require.Contains(t, out, "missing_col", out)
	t.Logf("missing column (exit %d):\n%s", ee.ExitCode(), out)

}
