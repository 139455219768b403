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
//     log is reopened.
//  3. Seqs are contiguous: the retained segments hold exactly the entries
//     [FirstSeq, NextSeq), segment i+1 starts at the seq after the last entry
//     of segment i, and frame seqs increase by one within a segment.
//  4. A segment is fully synced before its successor is created, and the
//     directory is synced after every segment file creation or removal, so
//     only the last (active) segment can have a torn tail after a crash.
//  5. Only whole segments are deleted, oldest first, and never the active
//     (last) segment.
//  6. Open keeps exactly the complete, CRC-valid prefix of the active
//     segment: it truncates a torn or corrupt tail (logging the segment and
//     offset), it never fails because of one. Sealed segments are trusted at
//     open (invariant 4); Readers still verify every frame's CRC and report
//     ErrCorrupt if one is damaged later.
//  7. The name of the active segment gives its base seq, so seqs continue
//     after a reopen even when every entry of older segments was deleted.
package wal
