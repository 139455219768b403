// Package jetstream keeps pipelines' streams on a NATS JetStream cluster,
// so that several Hydrant nodes share them (docs/scaling.md).
//
// Layout on the cluster:
//
//   - one JetStream stream per pipeline, HYDRANT_<pipeline> ('.' in the
//     name becomes '='), with a subject per shard, hydrant.<pipeline>.<index>;
//   - records are routed to shards exactly as on the local log (MD5 of the
//     partition key onto 128-bit hash-key ranges, streams/internal/hashkey);
//   - one message carries the records of one request for one shard, each
//     encoded as on the local log (streams/internal/codec) and framed by
//     its length; a record's sequence number is the message's stream
//     sequence shifted left by 16 bits plus its index in the message, so it
//     grows within a shard and names one record;
//   - checkpoints live in the key-value bucket hydrant-checkpoints, one key
//     per (pipeline, destination, shard);
//   - delivery leases live in hydrant-leases, whose entries expire after the
//     lease TTL unless their owner renews them; each node also keeps a
//     heartbeat entry there, so every node knows how many share the work.
//
// An append is acknowledged once JetStream acknowledged every message of
// it: stored on a quorum of the stream's replicas, synced to disk as the
// servers' sync_interval says.
package jetstream
