// Package sinks defines the destination seam of the delivery runtime and the
// error classification every sink uses. Concrete sinks live in sub-packages
// and never import each other.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

// Sink delivers processed batches to a destination.
//
// What the runtime (package delivery) promises a sink:
//
//   - A batch holds processed records of one shard and, for a
//     Partitioner, one partition, in stream order. Its Records are the
//     sink's to read until Write returns; they must not be modified or kept.
//   - Write is called concurrently: for different shards (one worker per
//     destination and shard), and within one shard for different
//     partitions of a Partitioner (up to MaxInFlight, 8 by default, when
//     several partitions flush at once). A sink that does not partition
//     gets one Write at a time per shard, its batches in stream order.
//     Two Writes of the same batch never overlap: a failed batch is
//     retried only after its Write returned.
//   - A retry carries the same identity (b.ID()) and b.Arrived, and only
//     the records still pending: after a *BatchError, the failed ones;
//     after any other error, all of them. Retries stop at the destination's retry.duration; what
//     is left goes to the backup under the destination's error output
//     type, or the one an error names (record.WithErrorType).
//   - ctx is cancelled when the server stops hard (the drain timeout):
//     Write should return promptly then; its batch is delivered again
//     after the restart.
//
// What a sink promises the runtime:
//
//   - Write returns nil only when every record is durable at the
//     destination; a *BatchError naming the records (by index into
//     b.Records) that failed while the others were delivered; or any
//     other error for the whole batch. Wrap an error with Permanent when
//     retrying cannot help (the records go to the backup at once), or
//     return a *RetryAfterError to honour a server's hint.
//   - Writing the same batch identity again leaves one copy, not two
//     (object sinks name objects by it; an exactly-once sink records it).
//     Derive names from b.ID() and b.Arrived, never from which records
//     a Write happens to carry. After a crash the same records may be
//     re-read and cut into different batches, so a sink that must never
//     duplicate keeps, per (pipeline, destination, shard), the last
//     record.Position it committed and skips records at or below it; that
//     needs stream order per shard, so such a sink does not partition
//     (or keeps one position per partition), and it never commits past a
//     record it reports failed in a *BatchError (fail the rest of the
//     batch too), or the retry of that record would be skipped.
//   - Close is called once, after the last Write has returned.
//
// sinks/sinktest checks these promises against a real server; every sink
// runs it in its own tests.
type Sink interface {
	Write(ctx context.Context, b *record.Batch) error
	Close(ctx context.Context) error
}

// Checker is an optional capability of a Sink (and of an ObjectStore):
// Check reports whether the destination answers and is set up as the
// config expects (bucket or table exists, credentials accepted), with the
// reason when not. `hydrant validate --check-connections` and /readyz call
// it; it must not write records and should return within ctx's deadline.
type Checker interface {
	Check(ctx context.Context) error
}

// BatchError reports per-record failures of a partially delivered batch.
type BatchError struct {
	// Failed maps an index into Batch.Records to its error.
	Failed map[int]error
}

func (e *BatchError) Error() string {
	for _, err := range e.Failed {
		return fmt.Sprintf("%d records failed, e.g.: %v", len(e.Failed), err)
	}
	return "0 records failed"
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// RetryAfterError carries a server's hint for when to retry.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// ObjectStore writes whole objects into a bucket: an S3 bucket, or a
// directory laid out like one. Put must be atomic for readers (a reader sees
// the whole object or nothing) and overwrite an existing key, so that a
// retried flush replaces rather than duplicates. body is read to EOF.
type ObjectStore interface {
	Put(ctx context.Context, bucket, key string, body io.Reader) error
}

// ObjectReader is an optional capability of an ObjectStore: Get opens an
// object for reading (the Redshift sink's stdin load reads its staged
// files back through it).
type ObjectReader interface {
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, error)
}

// BucketChecker is an optional capability of an ObjectStore: CheckBucket
// reports whether bucket answers and accepts the store's credentials.
type BucketChecker interface {
	CheckBucket(ctx context.Context, bucket string) error
}

// Failed is one record that could not be delivered, on its way to the backup
// under the error output prefix.
type Failed struct {
	// Record is the data as it was handed to the stage that failed; it
	// carries Shard, Seq and Arrived of its source record.
	Record record.Record
	// Attempts counts delivery attempts made before giving up.
	Attempts int
	// Code and Message describe the last error.
	Code, Message string
	// Ended is when the last attempt ended.
	Ended time.Time
}

// Partitioner is an optional capability of a Sink whose output is split by
// record (dynamic partitioning): the runtime keeps one buffer per partition
// key and flushes each on its own size and interval. An error fails the
// record (marked with its error output type, e.g. partition-key-failed).
type Partitioner interface {
	Partition(r *record.Record) (string, error)
}
