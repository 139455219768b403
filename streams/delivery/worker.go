package delivery

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// ProcessingFailed is the error output type of records a processor failed.
const ProcessingFailed = "processing-failed"

// worker delivers one shard to one destination. It owns its buffer and its
// reader; see the package invariants.
type worker struct {
	p     *Pipeline
	d     *Destination
	shard record.ShardID
	stats *Stats
	log   *slog.Logger
}

// run reads until ctx is done or the shard has ended, then flushes with hard.
func (w *worker) run(ctx, hard context.Context) {
	w.log = w.p.log.With("destination", w.d.Name, "shard", w.shard)
	st := w.p.opts.Stream
	next := st.Checkpoint(w.d.Name, w.shard)
	var r *streams.Reader
	if err := w.retryForever(ctx, "open shard reader", func() (err error) {
		r, err = st.NewReader(w.shard, next)
		return err
	}); err != nil {
		return
	}
	defer r.Close()

	b := buffer.New(w.d.Policy, buffer.ClockFunc(w.p.opts.Now))
	first := next
	var last uint64
	flush := func() bool {
		if b.Len() == 0 {
			return true
		}
		batch := &record.Batch{
			Pipeline: w.p.opts.Name, Destination: w.d.Name, Shard: w.shard,
			First: first, Last: last, Records: b.Flush(),
		}
		if err := w.deliver(hard, batch); err != nil {
			// Only a cancelled hard context gets here: the batch stays
			// uncommitted and is delivered again after the next start.
			w.log.Warn("delivery stopped before the batch was resolved", "first", batch.First, "last", batch.Last, "err", err)
			return false
		}
		// A failed commit (a full disk, say) is retried, never given up:
		// a worker that stopped here would stall this shard for good.
		if err := w.retryForever(hard, "commit checkpoint", func() error { return st.Commit(hard, w.d.Name, w.shard, last+1) }); err != nil {
			return false
		}
		first = last + 1
		w.stats.setOldest(w.shard, time.Time{})
		return true
	}

	for {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := b.Deadline(); ok {
			rctx, cancel = context.WithDeadline(ctx, dl)
		}
		recs, err := r.Next(rctx, w.p.opts.ReadBytes)
		cancel()
		for i := range recs {
			// A record too big for what is buffered goes into the next batch.
			if !b.Fits(recs[i]) && !flush() {
				return
			}
			if b.Len() == 0 {
				w.stats.setOldest(w.shard, recs[i].Arrived)
			}
			last = recs[i].Seq
			if b.Add(recs[i]) && !flush() {
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, streams.ErrShardEnded):
			flush()
			return
		case ctx.Err() != nil:
			flush()
			return
		case errors.Is(err, context.DeadlineExceeded):
		default:
			w.log.Error("read stream", "err", err)
			if sleep(ctx, time.Second) != nil {
				flush()
				return
			}
		}
		if b.Due(w.p.opts.Now()) && !flush() {
			return
		}
	}
}

// deliver resolves every record of batch: delivered, dropped or backed up.
// It returns an error only when ctx is cancelled before that.
func (w *worker) deliver(ctx context.Context, batch *record.Batch) error {
	start := w.p.opts.Now()
	if w.d.BackupAll {
		if err := w.retryForever(ctx, "write source backup", func() error { return w.d.Backup.WriteSource(ctx, batch) }); err != nil {
			return err
		}
	}
	out, failed, err := w.process(ctx, batch.Records)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		if err := w.backup(ctx, ProcessingFailed, failed); err != nil {
			return err
		}
	}
	processed := *batch
	processed.Records = out
	return w.write(ctx, &processed, start)
}

// process runs the processor chain, returning the records that go on and
// those that failed. Dropped records simply disappear.
func (w *worker) process(ctx context.Context, in []record.Record) (ok []record.Record, failed []sinks.Failed, err error) {
	ok = in
	// source finds the record as read from the stream, so a record failed
	// by a later processor is backed up with its raw data, as Firehose
	// does. Processors keep Seq; in is sorted by it (one shard, in order).
	source := func(r record.Record) record.Record {
		if i, found := slices.BinarySearchFunc(in, r.Seq, func(x record.Record, seq uint64) int { return cmp.Compare(x.Seq, seq) }); found {
			return in[i]
		}
		return r
	}
	for _, proc := range w.d.Processors {
		if len(ok) == 0 {
			break
		}
		var res []transform.Result
		started := time.Now()
		for attempt := 1; ; attempt++ {
			res, err = proc.Process(ctx, ok)
			if err == nil && len(res) != len(ok) {
				err = errors.New("processor returned a result count that does not match its input")
			}
			if err == nil || attempt > w.p.opts.ProcessorRetries {
				break
			}
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			w.log.Warn("processor failed, retrying", "attempt", attempt, "err", err)
			if serr := sleep(ctx, w.p.opts.Backoff(attempt)); serr != nil {
				return nil, nil, serr
			}
		}
		w.stats.observeProcessing(time.Since(started), err == nil)
		now := w.p.opts.Now()
		if err != nil {
			for _, r := range ok {
				failed = append(failed, sinks.Failed{Record: source(r), Attempts: w.p.opts.ProcessorRetries + 1, Code: "Processor.Failed", Message: err.Error(), Ended: now})
			}
			return nil, failed, nil
		}
		next := make([]record.Record, 0, len(ok))
		for i, r := range res {
			switch r.Status {
			case transform.Ok:
				next = append(next, r.Out...)
			case transform.Dropped:
				w.stats.addDropped(1)
			default:
				msg := "processing failed"
				if r.Err != nil {
					msg = r.Err.Error()
				}
				failed = append(failed, sinks.Failed{Record: source(ok[i]), Attempts: 1, Code: "Processor.ProcessingFailed", Message: msg, Ended: now})
			}
		}
		ok = next
	}
	return ok, failed, nil
}

// write hands the batch to the sink, retrying what fails until the
// destination's retry window is over, then backs the rest up.
func (w *worker) write(ctx context.Context, b *record.Batch, start time.Time) error {
	deadline := start.Add(w.d.Retry)
	pending := b.Records
	for attempt := 1; len(pending) > 0; attempt++ {
		try := *b
		try.Records = pending
		err := w.d.Sink.Write(ctx, &try)
		if err == nil {
			w.stats.addDelivered(&try, w.p.opts.Now())
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.stats.addFailedAttempt(err)
		now := w.p.opts.Now()
		// Each failed record is retried, or, when its error is permanent or
		// the retry window is over, backed up under its error output type
		// (the destination's, unless the error names another one).
		var retry, delivered []record.Record
		giveUp := map[string][]sinks.Failed{}
		expired := !now.Before(deadline)
		consider := func(r record.Record, ferr error) {
			if !sinks.IsPermanent(ferr) && !expired {
				retry = append(retry, r)
				return
			}
			typ := record.ErrorType(ferr, w.d.ErrorType)
			giveUp[typ] = append(giveUp[typ], sinks.Failed{Record: r, Attempts: attempt, Code: errorCode(typ), Message: ferr.Error(), Ended: now})
		}
		var be *sinks.BatchError
		if errors.As(err, &be) {
			for i, r := range pending {
				if ferr, failed := be.Failed[i]; failed {
					consider(r, ferr)
				} else {
					delivered = append(delivered, r)
				}
			}
		} else {
			for _, r := range pending {
				consider(r, err)
			}
		}
		if len(delivered) > 0 {
			w.stats.addDelivered(&record.Batch{Records: delivered}, now)
		}
		for _, typ := range slices.Sorted(maps.Keys(giveUp)) {
			if err := w.backup(ctx, typ, giveUp[typ]); err != nil {
				return err
			}
		}
		pending = retry
		if len(pending) == 0 {
			return nil
		}
		w.log.Warn("sink write failed, retrying", "attempt", attempt, "records", len(pending), "err", err)
		wait := w.p.opts.Backoff(attempt)
		var ra *sinks.RetryAfterError
		if errors.As(err, &ra) && ra.After > wait {
			wait = ra.After
		}
		if left := deadline.Sub(now); wait > left {
			wait = max(left, 0)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
	return nil
}

// backup writes failed records, retrying without limit (invariant 3).
func (w *worker) backup(ctx context.Context, errorType string, failed []sinks.Failed) error {
	err := w.retryForever(ctx, "write backup", func() error { return w.d.Backup.WriteFailed(ctx, errorType, failed) })
	if err == nil {
		w.stats.addBackedUp(errorType, failed)
	}
	return err
}

// retryForever calls f until it succeeds or ctx is done, backing off; the
// worker holds (and its checkpoint with it) meanwhile.
func (w *worker) retryForever(ctx context.Context, what string, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.stats.addFailure(what, err)
		w.log.Error(what+" failed; delivery holds until it succeeds", "attempt", attempt, "err", err)
		if err := sleep(ctx, w.p.opts.Backoff(attempt)); err != nil {
			return err
		}
	}
}

// errorCode turns an error output type into Firehose-style error codes,
// e.g. "s3-failed" → "S3.Failed".
func errorCode(errorType string) string {
	code := []byte(errorType)
	upper := true
	for i, c := range code {
		switch {
		case c == '-':
			code[i] = '.'
			upper = true
		case upper && c >= 'a' && c <= 'z':
			code[i] = c - 'a' + 'A'
			upper = false
		default:
			upper = false
		}
	}
	return string(code)
}
