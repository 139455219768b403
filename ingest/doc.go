// Package ingest is Hydrant's HTTP intake. It serves three doors into the
// stream core and the health endpoints:
//
//   - the Amazon Data Firehose API (AWS JSON 1.1 on POST /, by X-Amz-Target):
//     PutRecord, PutRecordBatch, ListDeliveryStreams, DescribeDeliveryStream,
//     so that AWS SDKs, the AWS CLI, Fluent Bit and Vector work unchanged;
//     SigV4 signatures are verified when credentials are configured;
//   - the plain batch door, PUT|POST /v1/streams/{stream}/records, taking
//     NDJSON or a JSON array, optionally gzip-compressed;
//   - the receiver door, POST /v1/firehose-endpoint/{stream}, Firehose's
//     HTTP-endpoint delivery protocol;
//   - GET /healthz and GET /readyz.
//
// Once any credential is configured every write door requires a valid one;
// the rules per door, the limits and the Host rule are in docs/security.md.
//
// Every request is answered only after the stream core reports the records
// durable (Streams.Append), and every error answer has the shape
// {"__type": "<Code>", "message": "..."} with the code repeated in the
// X-Amzn-ErrorType header.
//
// The hot path avoids reflection: request bodies are scanned by a small JSON
// scanner that accepts exactly what encoding/json accepts (fuzzed against
// it), base64 data is decoded straight into one pooled arena per request, and
// responses are appended to pooled buffers.
//
// The package depends on the stream core only through the Streams interface
// it declares; it imports streams/record and ingest/api, never streams.
package ingest
