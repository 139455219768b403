// Package pgtest finds the test PostgreSQL that `scripts/services.sh up`
// starts (or the one HYDRANT_PG_DSN names) for the tests of the postgres
// sink and the end-to-end tests: the DSN, an admin pool that fails (never
// skips) when the server is down, and a fresh schema per test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// DSN is HYDRANT_PG_DSN, or what `scripts/services.sh up` starts.
func DSN() string {
	if v := os.Getenv("HYDRANT_PG_DSN"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// HostPort is the DSN's host:port, for a sinktest.Proxy in front of it.
func HostPort(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(DSN())
	require.NoError(t, err, "HYDRANT_PG_DSN must be a URL")
	return u.Host
}

// Via returns the DSN with its host:port replaced by addr.
func Via(t testing.TB, addr string) string {
	t.Helper()
	u, err := url.Parse(DSN())
	require.NoError(t, err, "HYDRANT_PG_DSN must be a URL")
	u.Host = addr
	return u.String()
}

// Admin returns a pool on the test server itself, failing the test with
// what to do when it is down.
func Admin(t testing.TB) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), DSN())
	require.NoError(t, err)
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("PostgreSQL is unreachable at %s (%v): run `make services-up` (scripts/services.sh up) first, "+
			"or point HYDRANT_PG_DSN at a PostgreSQL server", DSN(), err)
	}
	return p
}

// Schema creates a fresh schema, dropped with everything in it when the
// test ends, and returns its name.
func Schema(t testing.TB, admin *pgxpool.Pool) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	_, err := admin.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("cleanup: drop schema %s: %v", name, err)
		}
	})
	return name
}
