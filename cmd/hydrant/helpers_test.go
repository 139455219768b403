package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/configs"
)

// testApp builds the server from a pipeline file written as a format string:
// %[1]s is its data directory and %[2]s a lake directory, both under dir.
// The app is closed when the test ends.
func testApp(tb testing.TB, dir, yaml string) *app {
	tb.Helper()
	text := fmt.Sprintf(yaml, filepath.Join(dir, "data"), filepath.Join(dir, "lake"))
	cfg, err := configs.Parse(filepath.Join(dir, "hydrant.yaml"), []byte(text), nil)
	require.NoError(tb, err)
	a, err := build(tb.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(tb, err)
	tb.Cleanup(a.close)
	return a
}

// startDelivery runs every pipeline's delivery until the test ends.
func startDelivery(tb testing.TB, a *app) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(tb.Context()))
	var wg sync.WaitGroup
	for _, p := range a.pipelines {
		wg.Go(func() { _ = p.delivery.Run(ctx) })
	}
	tb.Cleanup(func() { cancel(); wg.Wait() })
}

// blockStore makes a directory store's root a file, so that every write
// to the store fails from now on.
func blockStore(tb testing.TB, root string) {
	tb.Helper()
	require.NoError(tb, os.RemoveAll(root))
	require.NoError(tb, os.WriteFile(root, []byte("not a directory"), 0o644))
}

// closedAddr is a loopback address where nothing answers: a destination
// that is not reachable.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}
