package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// readyCheckEvery bounds how often /readyz asks the destinations: a probe
// every second must not become a bucket request per destination per second.
const readyCheckEvery = 5 * time.Second

// readyCheckTimeout bounds one round of destination checks.
const readyCheckTimeout = 3 * time.Second

// readiness holds the last round of destination checks. A round runs in
// the background, so a probe never waits on a destination (a blackholed
// endpoint would otherwise outlast a probe's timeout and make the server
// look unready).
type readiness struct {
	mu      sync.Mutex
	at      time.Time // when the last round started
	report  string
	running bool
	wg      sync.WaitGroup // the round in flight; close waits for it
}

// ready is /readyz. The server is ready while its streams take records
// (none reports a storage fault);
// a destination that does not answer does not make it unready (its records
// wait in the stream while delivery retries, which is the point of the
// stream), but each destination's state is listed with the reason, as of
// the last round of checks.
func (a *app) ready(context.Context) (string, error) {
	if a.stopping.Load() {
		return "", errShuttingDown
	}
	// A stream that cannot write (a full disk or quota until space is
	// back, which its log probes; a write error until restart) makes the
	// server unready: appends answer 503 or 500 meanwhile.
	for _, p := range a.pipelines {
		if err := p.stream.Fault(); err != nil {
			return "", fmt.Errorf("pipeline %s: stream cannot write: %w", p.name, err)
		}
	}
	r := &a.readiness
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running && time.Since(r.at) >= readyCheckEvery {
		r.running, r.at = true, time.Now()
		r.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), readyCheckTimeout)
			defer cancel()
			report := a.checkDestinations(ctx)
			r.mu.Lock()
			r.report, r.running = report, false
			r.mu.Unlock()
		})
	}
	if r.report == "" {
		return "destinations: being checked\n", nil
	}
	return r.report, nil
}

// checkDestinations asks every destination and reports one line each:
// "pipeline/destination: ok" or the reason it is not ready (does not
// answer, or is not set up as the config expects).
func (a *app) checkDestinations(ctx context.Context) string {
	var lines []string
	for _, p := range a.pipelines {
		more, _ := checkAll(ctx, p)
		lines = append(lines, more...)
	}
	// Damage the log skipped is no reason to stop taking records (a new
	// process would not undo it), so the server stays ready; every
	// destination of the stream is listed as degraded, with the reason.
	for _, p := range a.pipelines {
		if reason := degradedReason(p.stream.Stats().Damage); reason != "" {
			for _, d := range p.destinations {
				lines = append(lines, fmt.Sprintf("%s/%s: degraded: %s\n", p.name, d.Name, reason))
			}
		}
	}
	return strings.Join(lines, "")
}

// checkAll checks a pipeline's destinations concurrently: one line each,
// in config order, and whether all answered.
func checkAll(ctx context.Context, p *pipeline) (lines []string, ok bool) {
	lines = make([]string, len(p.destinations))
	failed := make([]bool, len(p.destinations))
	var wg sync.WaitGroup
	for i, d := range p.destinations {
		wg.Go(func() {
			state := "ok"
			if err := d.check(ctx); err != nil {
				state = "not ready (delivery retries; records wait in the stream): " + err.Error()
				failed[i] = true
			}
			lines[i] = fmt.Sprintf("%s/%s: %s\n", p.name, d.Name, state)
		})
	}
	wg.Wait()
	return lines, !slices.Contains(failed, true)
}
