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

	// parts are the active partitions: one buffer per evaluated prefix
	// (dynamic partitioning), or the single partition "" for a sink that
	// does not partition. A partition exists only while it holds records.
	parts    map[string]*partition
	buffered int64  // bytes in all partitions
	readPos  uint64 // next seq to read: everything below is buffered or resolved
	// readBytes counts the bytes read so far; with partition.since it
	// measures how much of the log a buffered partition holds behind the
	// checkpoint.
	readBytes int64
	// committed is the last checkpoint written; lastCommit when.
	committed  uint64
	lastCommit time.Time
}

// partition is one active partition's buffer.
type partition struct {
	key   string
	b     *buffer.Batcher
	first uint64 // lowest seq buffered here: the checkpoint cannot pass it
	last  uint64
	// firstSub and lastSub complete the batch identity (record.BatchID).
	firstSub, lastSub uint32
	// oldest is the arrival of the first buffered record (data freshness).
	oldest time.Time
	// slab holds copies of the Data of a dynamic partition's records; see
	// own.
	slab []byte
	// held is the memory this partition is charged for in the worker's
	// byte cap: its records' Data, or for a dynamic partition its slabs.
	held int64
	// since is the worker's readBytes when the first buffered record came.
	since int64
}

// own copies r's Data into the partition's slab. Records read and
// processed together share one buffer (the stream reader's, a processor's
// arena); spread over many partitions, one record left in a partition would
// keep its whole chunk alive, so memory would no longer follow the buffered
// bytes. A single partition flushes whole chunks together and skips this.
func (p *partition) own(r *record.Record) {
	n := len(r.Data)
	if cap(p.slab)-len(p.slab) < n {
		// A new slab, never a grown one: earlier records point into the old.
		// Sized to the first record, then doubling (up to 1 MiB): a
		// partition holding one record costs about that record, which
		// matters with thousands of partitions under one byte cap.
		p.slab = make([]byte, 0, max(n, min(2*cap(p.slab), 1<<20)))
		p.held += int64(cap(p.slab))
	}
	start := len(p.slab)
	p.slab = append(p.slab, r.Data...)
	r.Data = p.slab[start:len(p.slab):len(p.slab)]
}

// commitEvery bounds how often a worker writes its checkpoint while
// records flow; drain and shard end always commit. Commits only bound the
// duplicates a crash can cause, so they need not follow every flush.
const commitEvery = time.Second

// run reads until ctx is done or the shard has ended, then flushes with hard.
func (w *worker) run(ctx, hard context.Context) {
	w.log = w.p.log.With("destination", w.d.Name, "shard", w.shard)
	w.parts = map[string]*partition{}
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
		if w.flush(hard, w.active()) {
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
			for i := range recs {
				w.readBytes += int64(len(recs[i].Data))
			}
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
		if !w.flush(hard, w.due(w.p.opts.Now())) {
			return
		}
		if !w.commit(hard, false) {
			return
		}
	}
}

// take processes records just read and buffers the results in their
// partitions, flushing partitions that fill up. It returns false only when
// ctx (the hard stop) ended it before everything was resolved or buffered.
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
	for _, r := range out {
		key := ""
		if partitioner != nil {
			k, err := partitioner.Partition(&r)
			if err != nil {
				typ := record.ErrorType(err, record.PartitionKeyFailed)
				failed.add(typ, r, 1, err.Error(), now)
				continue
			}
			key = k
		}
		part := w.parts[key]
		if part == nil {
			if len(w.parts) >= w.d.maxPartitions() {
				failed.add(record.ActivePartitionExceeded, r, 1, fmt.Sprintf("more than %d active partitions", w.d.maxPartitions()), now)
				continue
			}
			part = &partition{key: key, b: buffer.New(w.d.Policy, buffer.ClockFunc(w.p.opts.Now)), first: r.Seq}
			w.parts[key] = part
		}
		// A record too big for what is buffered goes into the next batch.
		if !part.b.Fits(r) && !w.flush(ctx, []*partition{part}) {
			return false
		}
		if part.b.Len() == 0 {
			part.first, part.firstSub, part.oldest, part.since = r.Seq, r.Sub, r.Arrived, w.readBytes
			w.parts[key] = part // flush removed it
		}
		held := part.held
		if key != "" {
			part.own(&r)
		} else {
			part.held += int64(len(r.Data))
		}
		w.buffered += part.held - held
		part.last, part.lastSub = r.Seq, r.Sub
		if part.b.Add(r) && !w.flush(ctx, []*partition{part}) {
			return false
		}
	}
	if w.backupAll(ctx, failed) != nil {
		return false
	}
	// Bounded memory with many partitions: over the worker's budget, flush
	// the biggest partitions early, down to half the budget, so that one
	// round of concurrent flushes makes room for many reads (flushing just
	// enough to get under would serialise on one small object at a time).
	if limit := w.d.maxBuffered(); w.buffered > limit {
		if !w.flush(ctx, w.biggest(w.buffered-limit/2)) {
			return false
		}
	}
	w.updateOldest()
	return true
}

// active returns every partition that holds records.
func (w *worker) active() []*partition {
	return slices.Collect(maps.Values(w.parts))
}

// due returns the partitions whose buffer is full or whose interval
// passed, and those that hold the checkpoint too far behind: a quiet
// partition would otherwise keep a whole interval of the log (at full
// ingest rate) from being trimmed, and re-delivered after a crash.
func (w *worker) due(now time.Time) []*partition {
	maxLag := w.d.maxLag()
	var out []*partition
	for _, p := range w.parts {
		if p.b.Due(now) || w.readBytes-p.since > maxLag {
			out = append(out, p)
		}
	}
	return out
}

// biggest returns the largest partitions holding at least bytes together.
func (w *worker) biggest(bytes int64) []*partition {
	all := w.active()
	slices.SortFunc(all, func(a, b *partition) int { return cmp.Compare(b.held, a.held) })
	var out []*partition
	for _, p := range all {
		if bytes <= 0 {
			break
		}
		out = append(out, p)
		bytes -= p.held
	}
	return out
}

// nextDeadline is the earliest interval deadline over the partitions, or
// when a throttled checkpoint commit is due, so a reader with nothing more
// to read still commits what it delivered.
func (w *worker) nextDeadline() (time.Time, bool) {
	var next time.Time
	found := false
	if w.commitPoint() > w.committed {
		next, found = w.lastCommit.Add(commitEvery), true
	}
	for _, p := range w.parts {
		if dl, ok := p.b.Deadline(); ok && (!found || dl.Before(next)) {
			next, found = dl, true
		}
	}
	return next, found
}

// updateOldest publishes the arrival of the oldest buffered record and the
// number of active partitions.
func (w *worker) updateOldest() {
	var oldest time.Time
	for _, p := range w.parts {
		if oldest.IsZero() || p.oldest.Before(oldest) {
			oldest = p.oldest
		}
	}
	w.stats.setShard(w.shard, oldest, len(w.parts))
}

// flush delivers the given partitions, up to the destination's MaxInFlight
// at a time, and removes them from the active set. It returns false when ctx
// ended before every record was resolved; nothing may be committed then.
func (w *worker) flush(ctx context.Context, parts []*partition) bool {
	if len(parts) == 0 {
		return true
	}
	batches := make([]*record.Batch, 0, len(parts))
	for _, p := range parts {
		if p.b.Len() == 0 {
			delete(w.parts, p.key)
			continue
		}
		w.buffered -= p.held
		p.slab, p.held = nil, 0
		batches = append(batches, &record.Batch{
			Pipeline: w.p.opts.Name, Destination: w.d.Name, Shard: w.shard,
			First: p.first, Last: p.last, FirstSub: p.firstSub, LastSub: p.lastSub, Records: p.b.Flush(),
		})
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
	for _, p := range parts {
		delete(w.parts, p.key)
	}
	w.updateOldest()
	return true
}

// commitPoint is the checkpoint the worker may write now.
func (w *worker) commitPoint() uint64 {
	next := w.readPos
	for _, p := range w.parts {
		next = min(next, p.first)
	}
	return next
}

// commit writes the checkpoint: below the lowest buffered seq, or
// everything read when nothing is buffered. Unless force, at most every
// commitEvery. A failed commit is retried, never given up: a worker that
// stopped here would stall its shard for good.
func (w *worker) commit(ctx context.Context, force bool) bool {
	next := w.commitPoint()
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
