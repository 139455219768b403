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

// readiness caches the last round of destination checks.
type readiness struct {
	mu     sync.Mutex
	at     time.Time
	report string
}

// ready is /readyz. The server is ready while its streams take records;
// a destination that does not answer does not make it unready (its records
// wait in the stream while delivery retries, which is the point of the
// stream), but each destination's state is listed with the reason.
func (a *app) ready(ctx context.Context) (string, error) {
	if a.stopping.Load() {
		return "", errShuttingDown
	}
	a.readiness.mu.Lock()
	defer a.readiness.mu.Unlock()
	if time.Since(a.readiness.at) >= readyCheckEvery {
		a.readiness.report = a.checkDestinations(ctx)
		a.readiness.at = time.Now()
	}
	return a.readiness.report, nil
}

// checkDestinations asks every destination at once and reports one line
// each: "pipeline/destination: ok" or the reason it is not reachable.
func (a *app) checkDestinations(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
	defer cancel()
	var lines []string
	for _, p := range a.pipelines {
		more, _ := checkAll(ctx, p)
		lines = append(lines, more...)
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
				state = "not reachable (delivery retries; records wait in the stream): " + err.Error()
				failed[i] = true
			}
			lines[i] = fmt.Sprintf("%s/%s: %s\n", p.name, d.Name, state)
		})
	}
	wg.Wait()
	return lines, !slices.Contains(failed, true)
}
