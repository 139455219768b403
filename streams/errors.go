package streams

import (
	"errors"

	"github.com/hydrant-io/hydrant/streams/record"
)

// Sentinel errors of the stream. Callers branch with errors.Is.
var (
	// ErrShardEnded is returned by Reader.Next at the end of a closed
	// (split or merged) shard once every record of it has been read; the
	// reader should move on to the shard's children. It is the shared
	// record.ErrShardEnded, so the delivery runtime recognises it from
	// any stream backend.
	ErrShardEnded = record.ErrShardEnded
	// ErrShardNotFound names a shard id the stream does not have (Kinesis'
	// ResourceNotFoundException).
	ErrShardNotFound = errors.New("shard not found")
	// ErrInvalidArgument rejects a split or merge that Kinesis would reject
	// with InvalidArgumentException: a bad hash key, a closed shard, or
	// shards that are not adjacent.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnknownConsumer names a consumer that is not in Options.Consumers.
	ErrUnknownConsumer = errors.New("unknown consumer")
	// ErrBadCheckpoint rejects a Commit past the shard's durable end.
	ErrBadCheckpoint = errors.New("checkpoint beyond the synced end of the shard")
)
