package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints the run's results.
func report(out io.Writer, res *results, e *env) {
	led := e.led
	acked, ackBytes := led.totals()
	fmt.Fprintf(out, "soak: %d kill -9 cycles in %s (seed %d, %d CPUs, %s)\n",
		res.cycles, res.elapsed.Round(time.Second), res.seed, runtime.NumCPU(), res.start.UTC().Format(time.RFC3339))
	fmt.Fprintf(out, "load: %d producers (PutRecordBatch and NDJSON door), %d records/request, %d requests, %d records sent\n",
		e.o.workers, e.o.batch, led.requests.Load(), led.sent.Load())
	fmt.Fprintf(out, "acknowledged: %d records, %d bytes; not acknowledged: %d answers 503 (%d with Retry-After), %d entries with ErrorCode, %d requests failed (refused/reset by kills)\n",
		acked, ackBytes, led.unavail.Load(), led.retryAfter.Load(), led.failedRecs.Load(), led.otherErrs.Load())
	fmt.Fprintf(out, "server: peak RSS (VmHWM) %.1f MiB, peak open fds %d\n", float64(e.peaks.hwmKiB)/1024, e.peaks.fds)

	o := res.outage
	switch {
	case !o.ran:
		fmt.Fprintln(out, "minio outage: skipped")
	default:
		state := "MinIO back"
		if o.startErr != nil {
			state = "MinIO restart FAILED: " + o.startErr.Error()
		}
		fmt.Fprintf(out, "minio outage: stopped %s from cycle %d, %d server kills during it; %s\n", o.down, o.cycle, o.kills, state)
	}
	d := res.diskFull
	switch {
	case !d.ran:
		fmt.Fprintf(out, "disk full: skipped (%s)\n", d.skipped)
	case d.recoveredErr != "":
		fmt.Fprintf(out, "disk full: at cycle %d, FAILED: %s\n", d.cycle, d.recoveredErr)
	default:
		fmt.Fprintf(out, "disk full: at cycle %d, filler %d MiB; %d answers 503 while full; /readyz unready: %t (%s); recovered in %s without restart: %t\n",
			d.cycle, d.fillerBytes>>20, d.unavailable, d.unready, firstLine(d.reason), d.recoveredIn.Round(time.Millisecond), d.samePID)
	}
	for _, dst := range res.status.Destinations {
		fmt.Fprintf(out, "final server: %s delivered %d records, %d failed attempts, backed up %v\n",
			dst.Name, dst.Stats.DeliveredRecords, dst.Stats.FailedAttempts, dst.Stats.BackedUp)
	}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "destination\tacknowledged\tdelivered unique\tmissing\tduplicated records\textra copies\tdelivered unacknowledged\tobjects\t")
	for _, t := range res.tallies {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", t.name, t.acked, t.deliveredUnique, t.missing,
			t.duplicateRecords, t.duplicateCopies, t.deliveredUnacked, t.objects)
	}
	tw.Flush()
	result := "PASS"
	for _, t := range res.tallies {
		if t.other > 0 || t.bad > 0 {
			fmt.Fprintf(out, "%s: %d objects outside %s (backup/error output), %d lines that are not soak records\n", t.name, t.other, dataPrefix, t.bad)
		}
		for _, dup := range t.duplicateSample {
			fmt.Fprintf(out, "%s: duplicate %s\n", t.name, dup)
		}
		if t.missing > 0 {
			result = "FAIL"
			fmt.Fprintf(out, "%s: missing, first ones: %s\n", t.name, strings.Join(t.missingSample, " "))
		}
	}
	fmt.Fprintf(out, "result: %s\n", result)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
