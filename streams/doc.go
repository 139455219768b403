// Package streams is the durable, sharded stream of one pipeline, shaped
// like a Kinesis Data Stream: records are routed by partition key to shards,
// each shard is a write-ahead log (streams/wal) with its own sequence
// numbers, and every consumer (a pipeline destination) reads each shard
// with its own durable checkpoint (streams/checkpoint).
//
// # Layout on disk
//
//	<Dir>/shards.json               shard map (JSON, replaced atomically)
//	<Dir>/shards/shardId-%012d/     one WAL directory per shard
//	<Dir>/checkpoints/<consumer>.json
//
// # Routing and resharding
//
// A record goes to the open shard whose inclusive hash-key range contains
// MD5(Key) read as an unsigned 128-bit big-endian integer; a record without
// a key goes to a uniformly random open shard (Firehose direct-put records
// have none). N initial shards split [0, 2^128) evenly as Kinesis does:
// step = floor(2^128/N), shard i covers [i·step, (i+1)·step−1] and the last
// ends at 2^128−1. Split and Merge follow Kinesis: the parent shards are
// closed, children take the next unused indexes, and readers keep reading
// closed shards until Reader.Next returns ErrShardEnded.
//
// # Invariants
//
//  1. Open shards tile [0, 2^128−1] exactly; Open refuses a map that does not.
//  2. The shard map is saved durably (temp file, fsync, rename, directory
//     fsync) before any record is routed to a new shard, so a crash during a
//     split or merge leaves either the old or the new map; an orphan empty
//     child directory is harmless.
//  3. Sequence numbers are contiguous per shard and continue across
//     restarts. A closed shard records the sequence number it ended at.
//  4. Append returns only when every record is durable; readers see only
//     durable records; a checkpoint never passes a shard's durable end nor
//     moves backwards.
//  5. Record ids (record.NewID) mix a hash of the name with the creation
//     time stored in the shard map, so they are unique across shards,
//     restarts and recreated data directories.
//  6. A WAL segment is deleted once every consumer's checkpoint is past it,
//     or — retention, as Firehose's 24 h limit — once its newest record is
//     older than Options.Retention even if a consumer is behind; that loss
//     is logged with the consumer and shard and counted in Stats. Without
//     consumers only retention deletes. The active segment of an open shard
//     is never deleted.
//  7. Bytes of retained segments are accounted in the shared Budget; Append
//     returns record.ErrBackpressure while it is used up, before writing.
package streams
