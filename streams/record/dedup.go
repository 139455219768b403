package record

import "context"

// dedupKey is the context key of a request's de-duplication id.
type dedupKey struct{}

// WithDedupID marks an append as a producer's request that the producer
// repeats, with the same id, when it retries: Firehose's
// X-Amz-Firehose-Request-Id. A stream backend that can drop a repeated
// request (JetStream, within its duplicate window) uses it; others ignore
// it.
func WithDedupID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, dedupKey{}, id)
}

// DedupID returns the id WithDedupID set, or "".
func DedupID(ctx context.Context) string {
	id, _ := ctx.Value(dedupKey{}).(string)
	return id
}
