package record

import "errors"

// Error output types: the values of !{firehose:error-output-type}, under
// which records that could not be delivered are backed up. They are
// defined here, once, because every stage assigns them: the runtime
// (processing-failed, active-partition-exceeded), processors
// (partition-key-failed), sinks (format-conversion-failed, s3-failed, ...)
// and the backup writer that names objects by them.
const (
	ProcessingFailed        = "processing-failed"
	PartitionKeyFailed      = "partition-key-failed"
	ActivePartitionExceeded = "active-partition-exceeded"
	FormatConversionFailed  = "format-conversion-failed"
	S3Failed                = "s3-failed" // also the directory sink: the S3 layout on a local disk
	HTTPEndpointFailed      = "http-endpoint-failed"
	OpenSearchFailed        = "opensearch-failed"
	PostgresFailed          = "postgres-failed"
	RedshiftFailed          = "redshift-failed"
	IcebergFailed           = "iceberg-failed"
)

// ErrorCode turns an error output type into the Firehose-style error code
// written beside each backed-up record, e.g. "s3-failed" → "S3.Failed".
func ErrorCode(errorType string) string {
	code := []byte(errorType)
	upper := true
	for i, c := range code {
		switch {
		case c == '-':
			code[i] = '.'
			upper = true
		case upper && c >= 'a' && c <= 'z':
			code[i] = c - 'a' + 'A'
			upper = false
		default:
			upper = false
		}
	}
	return string(code)
}

// Partition keys set by processors travel in Record.Meta under these keys;
// the prefix language reads them back as !{partitionKeyFromQuery:K} and
// !{partitionKeyFromLambda:K}.

// QueryKey is the Meta key under which jq_metadata stores partition key k.
func QueryKey(k string) string { return "query." + k }

// LambdaKey is the Meta key under which lambda, exec and wasm processors
// store partition key k.
func LambdaKey(k string) string { return "lambda." + k }

// Firehose's routing of a record to an Iceberg table (a Lambda's
// metadata.otfMetadata) travels in Record.Meta under these keys.
const (
	OTFDatabase  = "otf.destinationDatabaseName"
	OTFTable     = "otf.destinationTableName"
	OTFOperation = "otf.operation"
)

// typedError names the error output type its records are backed up under.
type typedError struct {
	err error
	typ string
}

func (e typedError) Error() string { return e.err.Error() }
func (e typedError) Unwrap() error { return e.err }

// WithErrorType marks err so that the records it fails go to the backup
// under errorType (Firehose's error output types, e.g.
// "partition-key-failed") rather than the failing stage's default (e.g.
// "processing-failed" or "s3-failed"). Processors and sinks both use it,
// which is why it lives with the core types.
func WithErrorType(err error, errorType string) error {
	if err == nil {
		return nil
	}
	return typedError{err: err, typ: errorType}
}

// ErrorType returns the error output type err was marked with, or def.
func ErrorType(err error, def string) string {
	var t typedError
	if errors.As(err, &t) {
		return t.typ
	}
	return def
}
