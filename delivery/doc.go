// Package delivery is the per-pipeline delivery runtime: for every
// destination and every shard of the pipeline's stream, one worker reads the
// stream from the destination's checkpoint, runs the processor chain on
// what it read, and buffers the results per partition (dynamic
// partitioning: one buffer per evaluated prefix, or a single buffer for a
// sink that does not partition). A partition flushes on its own size or
// interval; its batch goes to the sink, records that cannot be delivered go
// to the backup, and the checkpoint follows.
//
// The bookkeeping of the partitions (which flush when, the caps, the
// commit point they allow) is buffer.Partitions, one per worker; the worker
// is the loop around it: read, process, partition, add, write what the
// buffer hands back, commit.
//
// Invariants:
//
//  1. A checkpoint never passes a record that is neither delivered, dropped
//     by a processor, nor written to the backup: the worker commits the
//     lowest sequence number still buffered in any partition (or everything
//     read when nothing is buffered; buffer.Partitions.CommitPoint), and
//     only after the batches it took out of the buffer were resolved.
//  2. Partition flushes may run concurrently (Destination.MaxInFlight), but
//     the worker waits for all of them before it commits or reads on.
//  3. Backup writes and checkpoint commits are retried without limit; while
//     one fails, the worker neither commits nor reads further (records wait
//     on disk).
//  4. Memory per worker is bounded by Destination.MaxBufferedBytes plus one
//     read chunk: past the cap the biggest partitions flush early (down to
//     half the cap), and the number of partitions is capped
//     (active-partition-exceeded). A dynamic partition is charged for the
//     slabs its records' Data is copied into, so one buffered record never
//     keeps a whole read chunk alive. A destination that falls behind
//     leaves its backlog in the stream log.
//  5. A partition that holds the checkpoint more than four byte caps of the
//     log behind flushes early, so a quiet partition neither keeps a whole
//     buffer interval of the log from being trimmed nor makes a crash
//     re-deliver it.
//
// This package knows the stage interfaces (transform.Processor, sinks.Sink,
// sinks.Partitioner) but never a concrete processor or sink; cmd/hydrant
// builds those.
package delivery
