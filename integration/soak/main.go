// Command soak is Hydrant's soak test (`make soak`, scripts/soak.sh): it
// runs the real binary under load on both doors (Firehose PutRecordBatch
// and the batch door's NDJSON), kills it with SIGKILL at random moments
// and restarts it on the same data directory, stops and restarts MinIO
// once and fills the data directory's file system once, then drains the
// pipeline and checks that every acknowledged record reached both
// destinations (a local directory and MinIO). It prints acknowledged,
// missing and duplicate counts per destination, and the peak RSS and open
// file count of the server, and exits 1 if an acknowledged record is
// missing.
//
// It runs its own MinIO process (the binary scripts/services.sh builds)
// on free ports, so that its outage never disturbs other tests using the
// shared one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// errMissing is returned when an acknowledged record was not delivered.
var errMissing = errors.New("acknowledged records are missing")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts, err := parseOptions(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if err := run(ctx, log, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}
