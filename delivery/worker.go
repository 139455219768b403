package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// worker delivers one shard to one destination. It owns its reader and its
// partition buffers; see the package invariants.
type worker struct {
	p     *Pipeline
	d     *Destination
	shard record.ShardID
	stats *Stats
	log   *slog.Logger

	// buf holds the active partitions and decides what flushes when; the
	// worker writes what it takes out.
	buf     *buffer.Partitions
	readPos uint64 // next seq to read: everything below is buffered or resolved
	// committed is the last checkpoint written; lastCommit when.
	committed  uint64
	lastCommit time.Time
}

// commitEvery bounds how often a worker writes its checkpoint while
// records flow; drain and shard end always commit. Commits only bound the
// duplicates a crash can cause, so they need not follow every flush.
const commitEvery = time.Second

// run reads until ctx is done or the shard has ended, then flushes with hard.
func (w *worker) run(ctx, hard context.Context) {
	w.log = w.p.log.With("destination", w.d.Name, "shard", w.shard)
	w.buf = buffer.NewPartitions(w.d.Policy,
		buffer.Limits{MaxPartitions: w.d.MaxPartitions, MaxBytes: w.d.MaxBufferedBytes},
		buffer.ClockFunc(w.p.opts.Now))
	st := w.p.opts.Stream
	var r Reader
	if err := w.retryForever(ctx, "open shard reader", func() (err error) {
		if w.readPos, err = st.Checkpoint(ctx, w.d.Name, w.shard); err != nil {
			return err
		}
		r, err = st.NewReader(w.shard, w.readPos)
		return err
	}); err != nil {
		return
	}
	w.committed = w.readPos
	defer r.Close()

	// finish flushes everything and commits; used at shard end and drain.
	finish := func() {
		if w.flush(hard, w.buf.TakeAll()...) {
			w.commit(hard, true)
		}
	}
	for {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := w.nextDeadline(); ok {
			rctx, cancel = context.WithDeadline(ctx, dl)
		}
		recs, err := r.Next(rctx, w.p.opts.ReadBytes)
		cancel()
		if len(recs) > 0 {
			w.readPos = recs[len(recs)-1].Seq + 1
			w.buf.Read(recs)
			if !w.take(hard, recs) {
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, record.ErrShardEnded):
			finish()
			return
		case ctx.Err() != nil:
			finish()
			return
		case errors.Is(err, context.DeadlineExceeded):
		default:
			w.log.Error("read stream", "err", err)
			if sleep(ctx, time.Second) != nil {
				finish()
				return
			}
		}
		if !w.flush(hard, w.buf.TakeDue(w.p.opts.Now())...) {
			return
		}
		if !w.commit(hard, false) {
			return
		}
	}
}

// take processes records just read and buffers the results in their
// partitions, writing the batches the buffer hands back. It returns false
// only when ctx (the hard stop) ended it before everything was resolved or
// buffered.
func (w *worker) take(ctx context.Context, recs []record.Record) bool {
	if w.d.BackupAll {
		src := &record.Batch{Pipeline: w.p.opts.Name, Destination: w.d.Name, Shard: w.shard,
			First: recs[0].Seq, Last: recs[len(recs)-1].Seq, Records: recs}
		if w.retryForever(ctx, "write source backup", func() error { return w.d.Backup.WriteSource(ctx, src) }) != nil {
			return false
		}
	}
	out, failed, err := w.process(ctx, recs)
	if err != nil {
		return false
	}
	partitioner, _ := w.d.Sink.(sinks.Partitioner)
	now := w.p.opts.Now()
	for i := range out {
		r := &out[i] // by index: a loop variable handed to Partition would escape, one allocation a record
		key := ""
		if partitioner != nil {
			k, err := partitioner.Partition(r)
			if err != nil {
				typ := record.ErrorType(err, record.PartitionKeyFailed)
				failed.add(typ, *r, 1, err.Error(), now)
				continue
			}
			key = k
		}
		full, err := w.buf.Add(key, *r)
		if err != nil { // buffer.ErrTooManyPartitions, the only error
			failed.add(record.ActivePartitionExceeded, *r, 1, fmt.Sprintf("more than %d active partitions", w.buf.Limits().MaxPartitions), now)
			continue
		}
		for _, b := range full {
			if !w.flush(ctx, b) {
				return false
			}
		}
	}
	if w.backupAll(ctx, failed) != nil {
		return false
	}
	// Bounded memory with many partitions: over the byte cap, the biggest
	// partitions flush early.
	if !w.flush(ctx, w.buf.TakeOverCap()...) {
		return false
	}
	w.updateOldest()
	return true
}

// nextDeadline is the earliest interval deadline over the partitions, or
// when a throttled checkpoint commit is due, so a reader with nothing more
// to read still commits what it delivered.
func (w *worker) nextDeadline() (time.Time, bool) {
	next, found := w.buf.NextDeadline()
	if w.buf.CommitPoint(w.readPos) > w.committed {
		if dl := w.lastCommit.Add(commitEvery); !found || dl.Before(next) {
			next, found = dl, true
		}
	}
	return next, found
}

// updateOldest publishes the arrival of the oldest buffered record and the
// number of active partitions.
func (w *worker) updateOldest() {
	w.stats.setShard(w.shard, w.buf.Oldest(), w.buf.Len())
}

// flush writes batches taken out of the buffer, up to the destination's
// MaxInFlight at a time. It returns false when ctx ended before every
// record was resolved; nothing may be committed then.
func (w *worker) flush(ctx context.Context, batches ...*record.Batch) bool {
	if len(batches) == 0 {
		return true
	}
	for _, b := range batches {
		b.Pipeline, b.Destination, b.Shard = w.p.opts.Name, w.d.Name, w.shard
	}
	ok := true
	if len(batches) == 1 {
		ok = w.write(ctx, batches[0], w.p.opts.Now()) == nil
	} else {
		var wg sync.WaitGroup
		var mu sync.Mutex
		sem := make(chan struct{}, w.d.maxInFlight())
		for _, b := range batches {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := w.write(ctx, b, w.p.opts.Now()); err != nil {
					mu.Lock()
					ok = false
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	if !ok {
		// Only a cancelled hard context gets here: what was not resolved is
		// delivered again after the next start (the checkpoint stays).
		w.log.Warn("delivery stopped before every batch was resolved")
		return false
	}
	w.updateOldest()
	return true
}

// commit writes the checkpoint: below the lowest buffered seq, or
// everything read when nothing is buffered. Unless force, at most every
// commitEvery. A failed commit is retried, never given up: a worker that
// stopped here would stall its shard for good.
func (w *worker) commit(ctx context.Context, force bool) bool {
	next := w.buf.CommitPoint(w.readPos)
	if next <= w.committed || (!force && w.p.opts.Now().Sub(w.lastCommit) < commitEvery) {
		return true
	}
	st := w.p.opts.Stream
	if w.retryForever(ctx, "commit checkpoint", func() error { return st.Commit(ctx, w.d.Name, w.shard, next) }) != nil {
		return false
	}
	w.committed, w.lastCommit = next, w.p.opts.Now()
	return true
}

// process runs the processor chain, returning the records that go on and
// those that failed. Dropped records simply disappear.
func (w *worker) process(ctx context.Context, in []record.Record) (ok []record.Record, failed failures, err error) {
	ok = in
	failed = failures{}
	// source finds the record as read from the stream, so a record failed
	// by a later processor is backed up with its raw data, as Firehose
	// does. Processors keep Seq; in is sorted by it (one shard, in order).
	source := func(r record.Record) record.Record {
		if i, found := slices.BinarySearchFunc(in, r.Seq, func(x record.Record, seq uint64) int { return cmp.Compare(x.Seq, seq) }); found {
			return in[i]
		}
		return r
	}
	// fail records r as failed under typ, once per source record: the
	// sub-records of one aggregate share its Seq, and the backup holds the
	// raw source, so N failed sub-records must not copy it N times.
	backedUp := map[uint64]bool{}
	fail := func(typ string, r record.Record, attempts int, msg string, now time.Time) {
		if backedUp[r.Seq] {
			return
		}
		backedUp[r.Seq] = true
		failed.add(typ, source(r), attempts, msg, now)
	}
	for _, proc := range w.d.Processors {
		if len(ok) == 0 {
			break
		}
		var res []transform.Result
		started := time.Now()
		retries := w.p.opts.ProcessorRetries
		if r, isRetrier := proc.(transform.Retrier); isRetrier {
			retries = r.Retries()
		}
		for attempt := 1; ; attempt++ {
			res, err = proc.Process(ctx, ok)
			if err == nil && len(res) != len(ok) {
				err = errors.New("processor returned a result count that does not match its input")
			}
			if err != nil && ctx.Err() != nil {
				// Stopped, not failed: the records are read again after a restart.
				return nil, nil, ctx.Err()
			}
			if err == nil || attempt > retries {
				break
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
				fail(record.ProcessingFailed, r, retries+1, err.Error(), now)
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
				// A processor may name another error output type, e.g.
				// jq_metadata's partition-key-failed.
				typ := record.ErrorType(r.Err, record.ProcessingFailed)
				fail(typ, ok[i], 1, msg, now)
			}
		}
		ok = next
	}
	if len(w.d.Processors) > 0 {
		numberSubRecords(ok)
	}
	return ok, failed, nil
}

// numberSubRecords sets Sub on the records one source record became, in
// order, so that every processed record has its own record.Position and a
// batch its identity, however the records are later cut into batches.
func numberSubRecords(recs []record.Record) {
	for i := range recs {
		recs[i].Sub = 0
		if i > 0 && recs[i].Seq == recs[i-1].Seq {
			recs[i].Sub = recs[i-1].Sub + 1
		}
	}
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
		giveUp := failures{}
		expired := !now.Before(deadline)
		consider := func(r record.Record, ferr error) {
			if !sinks.IsPermanent(ferr) && !expired {
				retry = append(retry, r)
				return
			}
			typ := record.ErrorType(ferr, w.d.ErrorType)
			giveUp.add(typ, r, attempt, ferr.Error(), now)
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
		if err := w.backupAll(ctx, giveUp); err != nil {
			return err
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

// failures collects records on their way to the backup, by error output
// type.
type failures map[string][]sinks.Failed

func (f failures) add(typ string, r record.Record, attempts int, msg string, now time.Time) {
	f[typ] = append(f[typ], sinks.Failed{Record: r, Attempts: attempts, Code: record.ErrorCode(typ), Message: msg, Ended: now})
}

// backupAll writes every type's failures, in a stable order.
func (w *worker) backupAll(ctx context.Context, f failures) error {
	for _, typ := range slices.Sorted(maps.Keys(f)) {
		if err := w.backup(ctx, typ, f[typ]); err != nil {
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
