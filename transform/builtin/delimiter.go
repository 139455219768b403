// Package builtin holds Hydrant's built-in processors, the counterparts of
// Firehose's built-in processor types.
package builtin

import (
	"context"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// DefaultDelimiter is what AppendDelimiter appends when given none.
const DefaultDelimiter = "\n"

// AppendDelimiter appends a delimiter to every record, like Firehose's
// AppendDelimiterToRecord, so that concatenated objects are e.g. NDJSON.
// It is stateless and safe for concurrent use.
type AppendDelimiter struct {
	delim string
}

var _ transform.Processor = (*AppendDelimiter)(nil)

// NewAppendDelimiter returns the processor; an empty delim means
// DefaultDelimiter.
func NewAppendDelimiter(delim string) *AppendDelimiter {
	if delim == "" {
		delim = DefaultDelimiter
	}
	return &AppendDelimiter{delim: delim}
}

// Process returns every record Ok with the delimiter appended. The input
// slices are never written to (they may alias a shared read buffer): all new
// Data comes from one allocation for the batch, each record's slice capped so
// that an append by a later stage cannot overwrite its neighbour.
func (p *AppendDelimiter) Process(_ context.Context, in []record.Record) ([]transform.Result, error) {
	total := 0
	for i := range in {
		total += len(in[i].Data) + len(p.delim)
	}
	arena := make([]byte, 0, total)
	outs := make([]record.Record, len(in))
	res := make([]transform.Result, len(in))
	for i := range in {
		start := len(arena)
		arena = append(arena, in[i].Data...)
		arena = append(arena, p.delim...)
		outs[i] = in[i]
		outs[i].Data = arena[start:len(arena):len(arena)]
		res[i] = transform.Result{Status: transform.Ok, Out: outs[i : i+1 : i+1]}
	}
	return res, nil
}

// Close does nothing.
func (p *AppendDelimiter) Close(context.Context) error { return nil }
