package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports a long command's progress on stderr: a line redrawn in
// place on a terminal, a plain line every few seconds otherwise (logs,
// pipes), so scripts see progress without control characters.
type progress struct {
	w        io.Writer
	tty      bool
	last     time.Time
	wrote    bool
	interval time.Duration
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.interval = true, 100*time.Millisecond
		}
	}
	return p
}

// update reports records and bytes sent so far.
func (p *progress) update(records int, bytes int64, elapsed time.Duration) {
	now := time.Now()
	if now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	rate := float64(records) / max(elapsed.Seconds(), 1e-9)
	mbs := float64(bytes) / 1e6 / max(elapsed.Seconds(), 1e-9)
	line := fmt.Sprintf("%d records  %.1f MB  %.0f records/s  %.1f MB/s", records, float64(bytes)/1e6, rate, mbs)
	if p.tty {
		// The total is unknown (stdin), so the bar shows activity: it
		// fills once every 30 seconds.
		const width = 30
		filled := int(elapsed.Seconds()) % (width + 1)
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < filled {
				bar[i] = '='
			}
		}
		fmt.Fprintf(p.w, "\r[%s] %s\x1b[K", bar, line)
		p.wrote = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// done ends the progress line on a terminal.
func (p *progress) done() {
	if p.tty && p.wrote {
		fmt.Fprintln(p.w)
	}
}
