package wal

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// QuarantineDir is the folder, inside the log directory, that keeps copies
// of damaged bytes: "<segment base %020d>-<file offset>.bin" for a damaged
// region that was skipped (the bytes also stay in the segment until it is
// deleted) and "<segment base>-<offset>.tail" for a torn or corrupt tail
// cut at Open. Nothing in the log reads or deletes these files.
const QuarantineDir = "quarantine"

// damageKey identifies a damaged region: its segment and start offset.
type damageKey struct {
	base uint64
	off  int64
}

// noteDamage records the damaged region d of the segment starting at base,
// read through f: the first time it is counted in Stats and logged, and
// until a copy succeeds its bytes are copied to the quarantine folder. A
// failed copy is logged and does not stop the caller: the bytes are still
// in the segment, and the next Reader to cross them tries again.
func (l *Log) noteDamage(f io.ReaderAt, base uint64, d damage) {
	key := damageKey{base, d.off}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	saved, seen := l.damaged[key]
	if !seen {
		l.smu.Lock()
		l.stats.CorruptFrames++
		l.stats.LostSeqs += d.next - d.want
		l.stats.LastDamage = Damage{Segment: segmentName(base), Offset: d.off, Bytes: d.end - d.off,
			FirstLostSeq: d.want, LostSeqs: d.next - d.want, Reason: fmt.Sprint(d.why), At: time.Now()}
		l.smu.Unlock()
		l.log.Error("wal: skipping damaged bytes",
			"segment", segmentName(base), "offset", d.off, "bytes", d.end-d.off,
			"lost_seqs", d.next-d.want, "first_lost_seq", d.want, "next_seq", d.next,
			"reason", d.why)
	}
	if !saved && d.end > d.off {
		name := fmt.Sprintf("%020d-%d.bin", base, d.off)
		if err := l.quarantine(f, name, d.off, d.end); err != nil {
			l.log.Error("wal: quarantine damaged bytes", "segment", segmentName(base), "offset", d.off, "err", err)
		} else {
			saved = true
		}
	}
	l.damaged[key] = saved || d.end == d.off
}

// quarantine copies bytes [off, end) of f durably to the quarantine file
// name: the file and the folder are synced.
func (l *Log) quarantine(f io.ReaderAt, name string, off, end int64) (err error) {
	qdir := filepath.Join(l.dir, QuarantineDir)
	if !l.qdirReady {
		if err := l.fs.MkdirAll(qdir, 0o755); err != nil {
			return fmt.Errorf("wal: create quarantine dir: %w", err)
		}
		if err := l.syncDir(l.dir); err != nil {
			return err
		}
		l.qdirReady = true
	}
	out, err := l.fs.OpenFile(filepath.Join(qdir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal: create quarantine file: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: close quarantine file: %w", cerr)
		}
	}()
	buf := make([]byte, min(end-off, 1<<20))
	for at := off; at < end; {
		b := buf[:min(int64(len(buf)), end-at)]
		n, rerr := f.ReadAt(b, at)
		if n < len(b) {
			if rerr == nil {
				rerr = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("wal: read damaged bytes at %d: %w", at, rerr)
		}
		if _, err := out.Write(b); err != nil {
			return fmt.Errorf("wal: write quarantine file: %w", err)
		}
		at += int64(n)
	}
	if err := l.sync(out); err != nil {
		return fmt.Errorf("wal: sync quarantine file: %w", err)
	}
	if err := l.syncDir(qdir); err != nil {
		return err
	}
	l.smu.Lock()
	l.stats.QuarantinedBytes += uint64(end - off)
	l.smu.Unlock()
	return nil
}
