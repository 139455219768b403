// Package checkpoint stores, durably, how far each consumer (a pipeline
// destination) has delivered each shard of a stream.
//
// A checkpoint is the next sequence number to deliver: every record below it
// is resolved (delivered, dropped by a processor, or backed up). The stream
// deletes a WAL segment only once every consumer's checkpoint has passed it.
//
// # On-disk format
//
// A Store owns one directory. Each consumer has one file, "<consumer>.json",
// holding all of its shards:
//
//	{"version":1,"consumer":"lake","shards":{"shardId-000000000000":1042,"shardId-000000000001":77}}
//
// Consumer names are limited to [A-Za-z0-9_.-], at most 128 bytes, not
// starting with a dot, so that they are safe file names. Files named
// "*.tmp-*" are leftovers of an interrupted write and are removed by Open.
//
// # Invariants
//
//  1. A file is replaced atomically: the new content is written to a temp
//     file in the same directory, fsynced, renamed over the old file, and the
//     directory is fsynced. A crash leaves either the old or the new file.
//  2. Commit returns nil only after a file containing the committed value
//     (or a later one) is durable.
//  3. A shard's checkpoint never moves backwards: Commit rejects a value
//     below the last committed one with ErrBackwards.
//  4. Get reports only durable values. A failed write leaves the value
//     pending; the next successful Commit of that consumer persists it too.
//  5. Concurrent Commits of one consumer are coalesced: a writer persists
//     every value committed before it took the snapshot, so a burst of
//     commits over many shards costs few fsyncs (group commit).
package checkpoint
