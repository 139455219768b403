// Package wal is a durable, segmented, group-committed append-only log.
//
// Hydrant keeps one Log per shard. The package deals in bytes only: it
// assigns each appended payload a sequence number (seq), makes it durable
// with fdatasync, and lets any number of Readers tail the log from files.
// It imports no other Hydrant package so it can be fuzzed in isolation.
//
// # On-disk format
//
// A log is one directory of segment files named after the seq of their
// first entry, zero padded: "%020d.wal" (for example
// 00000000000000000042.wal). A segment is a plain concatenation of frames,
// with no file header. Each frame is, little-endian:
//
//	offset size field
//	0      4    length  payload length in bytes (<= MaxEntryBytes)
//	4      4    crc     CRC-32C (Castagnoli) of seq bytes 8..16 followed by the payload
//	8      8    seq     sequence number of this entry
//	16     len  payload
//
// The seq inside a frame is redundant with the frame's position, which is the
// point: a frame whose seq is not the expected next one (stale bytes, a
// misplaced write) is rejected the same way as a CRC mismatch.
//
// # Write path
//
// Append encodes its frames into a pending buffer under a mutex and waits.
// One flusher goroutine, owned by the Log, swaps the pending buffer for an
// empty one, writes it with a single write call, calls fdatasync, publishes
// the new synced seq and wakes every Append covered by that sync as well as
// all Readers. While the flusher writes and syncs, new Appends fill the other
// buffer, so under load each fsync carries many requests (group commit).
// Memory is bounded: Append blocks while MaxPendingBytes are already waiting,
// so at most about 2×MaxPendingBytes are buffered (one batch being written,
// one filling).
//
// Between two writes the flusher rolls to a new segment once the active one
// has reached SegmentBytes; a batch is never split, so a segment may exceed
// SegmentBytes by up to one batch.
//
// # Invariants
//
//  1. Readers never see unsynced entries: a Reader reads a segment only up to
//     the byte size recorded after the last successful fdatasync.
//  2. Append returns success only after its entries were written and synced;
//     a write or sync error is sticky and fails every later Append until the
//     log is reopened, except a full disk or quota (see Full disk below).
//  3. Seqs are contiguous: the retained segments hold exactly the entries
//     [FirstSeq, NextSeq), segment i+1 starts at the seq after the last entry
//     of segment i, and frame seqs increase by one within a segment. The one
//     exception is damage (see below): the seqs of unreadable frames are
//     missing, and Readers skip them.
//  4. A segment is fully synced before its successor is created, and the
//     directory is synced after every segment file creation or removal, so
//     only the last (active) segment can have a torn tail after a crash.
//  5. Only whole segments are deleted, oldest first, and never the active
//     (last) segment.
//  6. Open truncates only a torn tail of the active segment: damage (an
//     incomplete or invalid frame) with no valid frame after it. It logs the
//     segment and offset, keeps a copy of the cut bytes in quarantine and
//     never fails because of one. Damage that valid frames follow is
//     skipped, never truncated (see below). Sealed segments are trusted at
//     open (invariant 4, and scanning them would cost a read of the whole
//     log); Readers verify every frame and skip damage the same way.
//  7. The name of the active segment gives its base seq, so seqs continue
//     after a reopen even when every entry of older segments was deleted.
//
// # Full disk
//
// ENOSPC or EDQUOT from the write or fdatasync of a batch (or from creating
// the next segment at a roll) is not sticky. The flusher truncates the
// active segment back to its synced size, so no byte of the failed batch
// stays (with O_APPEND the next write lands right after the last synced
// frame), and fails the batch's Appends and those already queued behind it
// (encoded with the seqs after it) with an error wrapping ErrNoSpace and
// the cause. None of them was acknowledged. The next Append gets the failed
// batch's first seq, so seqs stay contiguous, and tries the write again. If
// the truncate fails the error is sticky as any other. Fault reports the
// ErrNoSpace failure until a write succeeds; while idle the flusher probes
// every ProbeInterval by writing, syncing and removing a small scratch file
// (".space-probe") and clears the fault when that works, so that a caller
// that stopped sending (an unready server) learns that space is back.
// Any other write or sync error (EIO, a silent short write) stays sticky.
//
// # Damage
//
// A frame that fails validation (length, CRC or seq) at Open or under a
// Reader is not the end of the segment if a valid frame follows it. The
// next valid frame is found by scanning forward byte by byte from the
// damaged offset d (where seq w was expected) for the first offset a whose
// header has a length <= MaxEntryBytes that ends within the segment, a seq
// s with w <= s < (the segment's end seq) and s-w <= (a-d)/HeaderBytes
// (the s-w lost frames took at least a header each of the damaged bytes),
// and a matching CRC-32C. A false match needs 32 CRC bits to agree by chance
// on bytes whose seq field already falls in that narrow window. The frame
// found keeps its seq; seqs [w, s) are lost, and Readers continue at s
// rather than wait for them. If no frame qualifies, the damage runs to the
// end: at Open in the active segment that is a torn tail (truncated); in a
// sealed segment, or in the active one damaged after Open, Readers skip to
// the segment's end seq.
//
// Skipped bytes stay in the segment file until retention deletes the whole
// segment; a durable copy (file and folder synced) goes to
// QuarantineDir/"<segment base>-<offset>.bin" when the damage is first met,
// a cut tail to "<segment base>-<offset>.tail". Stats count each damaged
// region once per Log (CorruptFrames), the seqs it held (LostSeqs) and the
// bytes copied (QuarantinedBytes); each is logged at error level with its
// segment, offset, size and seqs. Damage in the active segment is met again
// at every Open and counted again by the new Log; its copy is rewritten
// with the same bytes.
package wal
