// Package delivery is the per-pipeline delivery runtime: for every
// destination and every shard of the pipeline's stream, one worker reads the
// stream from the destination's checkpoint, fills a buffer, and on a flush
// runs the processor chain, hands the result to the sink, routes records that
// could not be delivered to the backup, and only then commits the checkpoint.
//
// Invariants:
//
//  1. A checkpoint never passes a record that is neither delivered, dropped
//     by a processor, nor written to the backup. The worker commits the range
//     [First, Last] of a batch only after every record of it is resolved.
//  2. Batches of one (destination, shard) are delivered one at a time, in
//     sequence order, so the committed position is always a contiguous prefix.
//  3. Backup writes are retried without limit; while the backup fails, the
//     worker neither commits nor reads further (records wait on disk).
//  4. Memory per worker is bounded by the buffer size plus one read chunk;
//     a destination that falls behind leaves its backlog in the stream log.
//
// This package knows the stage interfaces (transform.Processor, sinks.Sink)
// but never a concrete processor or sink; cmd/hydrant builds those.
package delivery
