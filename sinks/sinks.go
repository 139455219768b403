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
// Write returns nil when every record is delivered; a *BatchError naming the
// records (by index into b.Records) that failed while the rest were
// delivered; or any other error for the whole batch. Wrap an error with
// Permanent when retrying cannot help (it then goes to the backup at once),
// or with RetryAfter to honour a server hint. Write must be idempotent for
// the same batch range (object sinks derive names from shard and range) and
// may be called concurrently for different shards.
type Sink interface {
	Write(ctx context.Context, b *record.Batch) error
	Close(ctx context.Context) error
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
