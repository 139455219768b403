package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultSegmentBytes    = 64 << 20
	DefaultMaxPendingBytes = 4 << 20
	DefaultProbeInterval   = time.Second
)

// ErrClosed is returned by operations on a closed Log.
var ErrClosed = errors.New("wal: log closed")

// ErrNoSpace marks a write or sync that failed because the file system is
// full (ENOSPC) or the quota is used up (EDQUOT). Unlike other write errors
// it is not sticky: the failed batch is cut off the segment, its Appends
// (and those queued behind it) fail with an error that wraps ErrNoSpace and
// the cause, and later Appends try again. Callers should back off and retry.
var ErrNoSpace = errors.New("wal: no space left on device")

// probeName is the scratch file, inside the log directory, that the flusher
// writes while the log is out of space to notice that space is back.
const probeName = ".space-probe"

// probeBytes is the size of the probe write.
const probeBytes = 4096

// isNoSpace reports whether err is a full file system or quota.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Options configure a Log. The zero value is usable.
type Options struct {
	// SegmentBytes makes the flusher roll to a new segment file once the
	// active one has reached this size. Default DefaultSegmentBytes.
	SegmentBytes int64
	// FirstSeq is the seq of the first entry of a brand-new (empty) log.
	// It is ignored when the directory already holds segments.
	FirstSeq uint64
	// MaxPendingBytes is how many encoded bytes may wait for the flusher
	// before Append blocks. Default DefaultMaxPendingBytes.
	MaxPendingBytes int64
	// FS is the file system seam for fault injection. Default OSFS.
	FS FS
	// Logger receives repair warnings. Default discards.
	Logger *slog.Logger
	// NoSync skips fdatasync. For tests and benchmarks only: it voids
	// every durability guarantee.
	NoSync bool
	// ProbeInterval is how often an idle flusher checks whether space is
	// back after an ErrNoSpace failure (see Fault). Default
	// DefaultProbeInterval.
	ProbeInterval time.Duration
}

// Entry is one log entry.
type Entry struct {
	Seq  uint64
	Data []byte
}

// Stats are counters and sizes of a Log.
type Stats struct {
	FirstSeq    uint64 // first retained seq
	NextSeq     uint64 // seq after the last synced entry
	Bytes       int64  // synced bytes in all retained segments
	Segments    int    // retained segment files
	Syncs       uint64 // successful fdatasync calls by the flusher
	SyncedBytes uint64 // bytes written and synced by the flusher
	Repaired    int    // torn or corrupt tails truncated at Open
	// CorruptFrames counts damaged regions skipped because valid frames
	// follow them (at Open in the active segment, or by a Reader in any
	// segment), each once per Log.
	CorruptFrames uint64
	// LostSeqs counts the seqs those regions held: unreadable entries.
	LostSeqs uint64
	// QuarantinedBytes counts bytes copied to the quarantine folder
	// (damaged regions and cut tails).
	QuarantinedBytes uint64
	// LastDamage is the damaged region counted last; zero Segment if none.
	LastDamage Damage
}

// Damage describes a damaged region of a segment that the log skipped.
type Damage struct {
	Segment string `json:"segment"` // file name, in the log directory
	Offset  int64  `json:"offset"`  // of the first damaged byte
	Bytes   int64  `json:"bytes"`   // skipped
	// FirstLostSeq and LostSeqs are the sequence numbers the region held.
	FirstLostSeq uint64    `json:"first_lost_seq"`
	LostSeqs     uint64    `json:"lost_seqs"`
	Reason       string    `json:"reason"`
	At           time.Time `json:"at"` // when this process first met it
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	FirstSeq uint64    // seq of its first entry (its name)
	NextSeq  uint64    // seq after its last synced entry
	Bytes    int64     // synced bytes
	ModTime  time.Time // last write (synced) or modification time at Open
}

// segment is the in-memory state of one segment file. Fields are guarded by
// Log.smu.
type segment struct {
	base    uint64
	next    uint64
	size    int64
	modTime time.Time
	deleted bool
}

// batch is one group commit: the frames of consecutive Appends.
type batch struct {
	buf   []byte
	first uint64 // seq of the first frame in buf
	next  uint64 // seq after the last frame in buf
	done  chan struct{}
	err   error // set before done is closed
}

// Log is a durable append-only log in one directory. All methods are safe
// for concurrent use.
type Log struct {
	dir  string
	fs   FS
	log  *slog.Logger
	opts Options

	// amu guards the append side.
	amu     sync.Mutex
	pending *batch
	spare   []byte        // the other buffer, returned by the flusher
	spaceCh chan struct{} // closed when the pending buffer is swapped out
	nextSeq uint64        // seq the next Append gets
	closing bool
	stickyA error // copy of the sticky error for Append
	kick    chan struct{}
	flushed chan struct{} // closed when the flusher returns

	closeOnce sync.Once
	closeErr  error

	// dmu serialises segment deletions.
	dmu sync.Mutex

	// smu guards the durable side, read by Readers.
	smu      sync.Mutex
	segs     []*segment // oldest first; the last is active
	synced   uint64     // all seqs below are durable
	syncedCh chan struct{}
	closed   chan struct{}
	sticky   error
	noSpace  error // the last ErrNoSpace failure, until a write succeeds
	stats    Stats

	// qmu guards damaged and qdirReady: damage found at Open and by
	// Readers, counted once and quarantined until a copy succeeds.
	qmu       sync.Mutex
	damaged   map[damageKey]bool // saved
	qdirReady bool

	// active is the open active segment, used only by Open and the flusher.
	active File
}

// Open opens or creates the log in dir. It truncates a torn tail of the
// active segment, skips (and quarantines) damage that valid frames follow
// (see the package doc, Damage) and starts the flusher goroutine; Close
// stops it.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	l := &Log{
		dir:      dir,
		fs:       opts.FS,
		log:      opts.Logger.With("wal", dir),
		opts:     opts,
		spaceCh:  make(chan struct{}),
		kick:     make(chan struct{}, 1),
		flushed:  make(chan struct{}),
		syncedCh: make(chan struct{}),
		closed:   make(chan struct{}),
		damaged:  make(map[damageKey]bool),
	}
	_, statErr := l.fs.ReadDir(dir)
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: create dir: %w", err)
	}
	if statErr != nil {
		// A new log directory: make its entry in the parent durable, or a
		// power loss could drop a shard directory a shard map refers to.
		if err := l.syncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	if err := l.load(); err != nil {
		if l.active != nil {
			_ = l.active.Close()
		}
		return nil, err
	}
	last := l.segs[len(l.segs)-1]
	l.synced = last.next
	l.nextSeq = last.next
	l.pending = &batch{first: l.nextSeq, next: l.nextSeq, done: make(chan struct{})}
	go l.flusher()
	return l, nil
}

// segmentName is the file name of the segment starting at base.
func segmentName(base uint64) string { return fmt.Sprintf("%020d.wal", base) }

// parseSegmentName returns the base seq of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, ".wal")
	if !ok || len(s) != 20 {
		return 0, false
	}
	base, err := strconv.ParseUint(s, 10, 64)
	return base, err == nil
}

func (l *Log) path(base uint64) string { return filepath.Join(l.dir, segmentName(base)) }

// load lists the segments, repairs the active one and opens it for writing.
func (l *Log) load() error {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("wal: list dir: %w", err)
	}
	for _, e := range ents {
		base, ok := parseSegmentName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		seg := &segment{base: base}
		if info, err := e.Info(); err == nil {
			seg.size = info.Size()
			seg.modTime = info.ModTime()
		}
		l.segs = append(l.segs, seg)
	}
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i].base < l.segs[j].base })
	if len(l.segs) == 0 {
		return l.createSegment(l.opts.FirstSeq)
	}
	// Sealed segments were synced before their successor was created
	// (invariant 4): each ends where the next begins.
	for i := 0; i < len(l.segs)-1; i++ {
		l.segs[i].next = l.segs[i+1].base
	}
	last := l.segs[len(l.segs)-1]
	f, err := l.fs.OpenFile(l.path(last.base), os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("wal: open active segment: %w", err)
	}
	l.active = f
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("wal: stat active segment: %w", err)
	}
	last.modTime = info.ModTime()
	res, err := scanRepair(f, info.Size(), last.base)
	if err != nil {
		return fmt.Errorf("wal: scan %s: %w", segmentName(last.base), err)
	}
	last.next, last.size = res.next, res.valid
	for _, d := range res.damage {
		l.noteDamage(f, last.base, d)
	}
	if res.valid < info.Size() {
		l.log.Warn("wal: truncating torn or corrupt tail",
			"segment", segmentName(last.base), "offset", res.valid,
			"size", info.Size(), "next_seq", res.next, "reason", res.tailErr)
		// Keep a copy first: a bad last frame is usually a torn write,
		// but may be an acknowledged entry damaged on disk.
		name := fmt.Sprintf("%020d-%d.tail", last.base, res.valid)
		if err := l.quarantine(f, name, res.valid, info.Size()); err != nil {
			l.log.Error("wal: quarantine torn tail", "segment", segmentName(last.base), "err", err)
		}
		if err := f.Truncate(res.valid); err != nil {
			return fmt.Errorf("wal: truncate %s: %w", segmentName(last.base), err)
		}
		if err := l.sync(f); err != nil {
			return fmt.Errorf("wal: sync %s: %w", segmentName(last.base), err)
		}
		l.stats.Repaired++
	}
	return nil
}

// createSegment creates an empty active segment starting at base, syncs the
// directory and appends it to segs. Called by Open and the flusher only.
func (l *Log) createSegment(base uint64) error {
	f, err := l.fs.OpenFile(l.path(base), os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("wal: create segment: %w", err)
	}
	if err := l.syncDir(l.dir); err != nil {
		_ = f.Close()
		// Best effort, so that a retry can create it again; if the file
		// stays, the retry fails with "file exists" and that is sticky.
		_ = l.fs.Remove(l.path(base))
		return err
	}
	seg := &segment{base: base, next: base, modTime: time.Now()}
	l.smu.Lock()
	l.segs = append(l.segs, seg)
	l.smu.Unlock()
	l.active = f
	return nil
}

func (l *Log) sync(f File) error {
	if l.opts.NoSync {
		return nil
	}
	return f.Sync()
}

// syncDir makes entry creations and removals in dir durable.
func (l *Log) syncDir(dir string) error {
	if l.opts.NoSync {
		return nil
	}
	d, err := l.fs.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: open dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: sync dir: %w", err)
	}
	return nil
}

// Append appends payloads as consecutive entries and returns the seq of
// the first one. It returns only after the entries are written and synced;
// concurrent Appends share one fdatasync. ctx cancels only the wait for
// buffer space (MaxPendingBytes): once enqueued, the entries are written and
// Append waits for the outcome. After a write or sync error every Append
// fails with that error until the log is reopened, except for a full disk
// or quota: that fails the Appends in flight with an error wrapping
// ErrNoSpace, and later Appends try again.
func (l *Log) Append(ctx context.Context, payloads ...[]byte) (first uint64, err error) {
	size := 0
	for i, p := range payloads {
		if len(p) > MaxEntryBytes {
			return 0, fmt.Errorf("wal: payload %d is %d bytes, max %d", i, len(p), MaxEntryBytes)
		}
		size += len(p)
	}
	return l.AppendEncoded(ctx, len(payloads), size, func(dst []byte, i int) []byte { return append(dst, payloads[i]...) })
}

// Encoder appends the payload of entry i (0-based within one call) to dst
// and returns the extended slice.
type Encoder func(dst []byte, i int) []byte

// AppendEncoded is Append for n entries that enc encodes straight into the
// log's pending buffer, which saves the caller an encode buffer and a copy.
// sizeMax bounds the total payload bytes enc will produce; it reserves
// buffer space. enc runs under the log's append lock, so it must be quick
// and must not call the Log. A payload over MaxEntryBytes fails the whole
// call, and nothing of it is written.
func (l *Log) AppendEncoded(ctx context.Context, n, sizeMax int, enc Encoder) (first uint64, err error) {
	size := sizeMax + n*HeaderBytes
	l.amu.Lock()
	for {
		if l.closing {
			l.amu.Unlock()
			return 0, ErrClosed
		}
		if l.stickyA != nil {
			err := l.stickyA
			l.amu.Unlock()
			return 0, err
		}
		// A single oversized Append still goes through into an empty buffer.
		n := len(l.pending.buf)
		if n == 0 || int64(n+size) <= l.opts.MaxPendingBytes {
			break
		}
		ch := l.spaceCh
		l.amu.Unlock()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-ch:
		}
		l.amu.Lock()
	}
	if n == 0 {
		first = l.nextSeq
		l.amu.Unlock()
		return first, nil
	}
	b := l.pending
	first = l.nextSeq
	if b.buf == nil {
		b.buf = l.spare[:0]
		l.spare = nil
		if b.buf == nil {
			// Sized once to the limit: growing by append would double the
			// capacity past MaxPendingBytes and keep it (RSS).
			b.buf = make([]byte, 0, max(l.opts.MaxPendingBytes, int64(size)))
		}
	}
	mark := len(b.buf)
	for i := range n {
		if b.buf, err = appendFrameFunc(b.buf, first+uint64(i), func(d []byte) []byte { return enc(d, i) }); err != nil {
			b.buf = b.buf[:mark]
			l.amu.Unlock()
			return 0, err
		}
	}
	l.nextSeq += uint64(n)
	b.next = l.nextSeq
	l.amu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-b.done
	if b.err != nil {
		return 0, b.err
	}
	return first, nil
}

// flusher writes and syncs batches until Close. It is the only writer of
// the active segment.
func (l *Log) flusher() {
	defer close(l.flushed)
	for {
		l.amu.Lock()
		b := l.pending
		if len(b.buf) == 0 {
			if l.closing {
				l.amu.Unlock()
				return
			}
			l.amu.Unlock()
			if l.Fault() != nil && l.stickyErr() == nil {
				// Out of space and idle: probe now and then, so that the
				// fault (and an unready server) clears without traffic.
				t := time.NewTimer(l.opts.ProbeInterval)
				select {
				case <-l.kick:
				case <-t.C:
					l.probe()
				}
				t.Stop()
				continue
			}
			<-l.kick
			continue
		}
		l.pending = &batch{first: b.next, next: b.next, done: make(chan struct{})}
		close(l.spaceCh)
		l.spaceCh = make(chan struct{})
		sticky := l.stickyA
		l.amu.Unlock()

		err := sticky
		if err == nil {
			err = l.commit(b)
			switch {
			case err == nil:
			case errors.Is(err, ErrNoSpace):
				l.rewind(b, err)
			default:
				l.amu.Lock()
				l.stickyA = err
				l.amu.Unlock()
			}
		}
		b.err = err
		close(b.done)
		l.amu.Lock()
		if l.spare == nil || cap(b.buf) > cap(l.spare) {
			l.spare = b.buf[:0]
		}
		l.amu.Unlock()
	}
}

// rewind undoes the seq assignment of b after it failed with ErrNoSpace
// and was cut off the segment: the batch filling behind it was encoded with
// the seqs after b's, so it fails too, and the next Append gets b.first.
func (l *Log) rewind(b *batch, err error) {
	l.amu.Lock()
	p := l.pending
	l.pending = &batch{first: b.first, next: b.first, done: make(chan struct{})}
	l.nextSeq = b.first
	close(l.spaceCh)
	l.spaceCh = make(chan struct{})
	if l.spare == nil && p.buf != nil {
		l.spare = p.buf[:0]
	}
	l.amu.Unlock()
	p.err = err
	close(p.done)
}

// probe writes and syncs a scratch file and clears the ErrNoSpace fault if
// that works. Called by the flusher only.
func (l *Log) probe() {
	name := filepath.Join(l.dir, probeName)
	f, err := l.fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return
	}
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = l.sync(f)
	}
	_ = f.Close()
	_ = l.fs.Remove(name)
	if err == nil {
		l.smu.Lock()
		l.noSpace = nil
		l.smu.Unlock()
		l.log.Info("wal: space is back")
	}
}

// commit writes b to the active segment (rolling first if it is full),
// syncs it and publishes the new synced state.
func (l *Log) commit(b *batch) error {
	l.smu.Lock()
	act := l.segs[len(l.segs)-1]
	full := act.size >= l.opts.SegmentBytes && act.next > act.base
	l.smu.Unlock()
	if full {
		// act was synced by the previous commit (invariant 4). A roll that
		// failed for space closed it already.
		if l.active != nil {
			if err := l.active.Close(); err != nil {
				return l.fail(fmt.Errorf("wal: close segment %s: %w", segmentName(act.base), err))
			}
			l.active = nil
		}
		if err := l.createSegment(b.first); err != nil {
			if isNoSpace(err) {
				return l.outOfSpace(err)
			}
			return l.fail(err)
		}
		act = l.segs[len(l.segs)-1] // only the flusher appends to segs
	}
	n, err := l.active.Write(b.buf)
	if err == nil && n < len(b.buf) {
		err = fmt.Errorf("short write of %d of %d bytes", n, len(b.buf))
	}
	if err != nil {
		err = fmt.Errorf("wal: write segment %s: %w", segmentName(act.base), err)
		if l.truncateBack(act) && isNoSpace(err) {
			return l.outOfSpace(err)
		}
		return l.fail(err)
	}
	if err := l.sync(l.active); err != nil {
		err = fmt.Errorf("wal: sync segment %s: %w", segmentName(act.base), err)
		if l.truncateBack(act) && isNoSpace(err) {
			return l.outOfSpace(err)
		}
		return l.fail(err)
	}
	now := time.Now()
	l.smu.Lock()
	act.size += int64(len(b.buf))
	act.next = b.next
	act.modTime = now
	l.synced = b.next
	l.noSpace = nil
	l.stats.Syncs++
	l.stats.SyncedBytes += uint64(len(b.buf))
	close(l.syncedCh)
	l.syncedCh = make(chan struct{})
	l.smu.Unlock()
	return nil
}

// truncateBack drops unsynced bytes after a failed write or sync: after a
// failed fsync the page cache may hold data that never reaches the disk,
// and it must not look valid to a later Open. It reports whether the
// segment is back at its synced size, so that the next write (O_APPEND)
// lands right after the last synced frame.
func (l *Log) truncateBack(act *segment) bool {
	if l.active == nil {
		return false
	}
	l.smu.Lock()
	size := act.size
	l.smu.Unlock()
	if err := l.active.Truncate(size); err != nil {
		l.log.Warn("wal: truncate after failed write", "segment", segmentName(act.base), "err", err)
		return false
	}
	return true
}

// outOfSpace records cause, a full disk or quota, as the log's fault until
// a write succeeds, and returns it wrapped in ErrNoSpace. Not sticky.
func (l *Log) outOfSpace(cause error) error {
	err := fmt.Errorf("%w: %w", ErrNoSpace, cause)
	l.smu.Lock()
	l.noSpace = err
	l.smu.Unlock()
	l.log.Warn("wal: out of space; appends fail until space is back", "err", cause)
	return err
}

// Fault returns why the log cannot take appends now: the sticky write
// error (until reopen), or the last ErrNoSpace failure until a write or a
// probe (every ProbeInterval while idle) succeeds. Nil when healthy.
func (l *Log) Fault() error {
	l.smu.Lock()
	defer l.smu.Unlock()
	if l.sticky != nil {
		return l.sticky
	}
	return l.noSpace
}

func (l *Log) stickyErr() error {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.sticky
}

// fail records err as the sticky error of the log and returns it.
func (l *Log) fail(err error) error {
	l.smu.Lock()
	if l.sticky == nil {
		l.sticky = err
	}
	err = l.sticky
	l.smu.Unlock()
	return err
}

// NextSeq returns the seq the next appended entry gets.
func (l *Log) NextSeq() uint64 {
	l.amu.Lock()
	defer l.amu.Unlock()
	return l.nextSeq
}

// SyncedSeq returns the seq after the last durable entry: all seqs below
// it are durable.
func (l *Log) SyncedSeq() uint64 {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.synced
}

// Wait blocks until SyncedSeq() > seq, ctx is done, the log is closed or it
// has a sticky write error.
func (l *Log) Wait(ctx context.Context, seq uint64) error {
	for {
		l.smu.Lock()
		synced, ch, sticky := l.synced, l.syncedCh, l.sticky
		l.smu.Unlock()
		switch {
		case synced > seq:
			return nil
		case sticky != nil:
			return sticky
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.closed:
			return ErrClosed
		case <-ch:
		}
	}
}

// Stats returns a snapshot of the log's counters and sizes.
func (l *Log) Stats() Stats {
	l.smu.Lock()
	defer l.smu.Unlock()
	s := l.stats
	s.FirstSeq = l.segs[0].base
	s.NextSeq = l.synced
	s.Segments = len(l.segs)
	for _, seg := range l.segs {
		s.Bytes += seg.size
	}
	return s
}

// Close flushes and syncs pending appends, stops the flusher and closes the
// active segment. It returns the sticky write error, if any. Readers must
// be closed separately; their Next returns ErrClosed from now on.
func (l *Log) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Log) close() error {
	l.amu.Lock()
	l.closing = true
	close(l.spaceCh) // wake Appends waiting for space: they see closing
	l.spaceCh = make(chan struct{})
	l.amu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-l.flushed
	l.smu.Lock()
	err := l.sticky
	close(l.closed)
	l.smu.Unlock()
	if l.active != nil {
		if cerr := l.active.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: close active segment: %w", cerr)
		}
	}
	return err
}
