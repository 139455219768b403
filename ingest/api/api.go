// Package api holds Hydrant's ingest wire types: the subset of the Amazon Data
// Firehose JSON 1.1 protocol Hydrant serves, the plain batch door's JSON
// shapes, the error codes both doors answer with, SigV4 signing, and a small
// Go client with retries. It imports only the standard library, so that
// `hydrant put`, `hydrant bench` and tests can use it without the server.
package api

import (
	"fmt"
	"time"
)

// Firehose JSON 1.1 protocol constants.
const (
	// TargetPrefix prefixes every X-Amz-Target value.
	TargetPrefix = "Firehose_20150804."
	// ContentType is the request and response media type of the Firehose API.
	ContentType = "application/x-amz-json-1.1"
	// SigningName is the SigV4 service name.
	SigningName = "firehose"
	// AccountID is the fixed account id used in ARNs and messages.
	AccountID = "000000000000"
	// DefaultRegion is the region named in ARNs when none is configured.
	DefaultRegion = "us-east-1"
)

// DeliveryStreamARN is the ARN Hydrant gives a pipeline, in Firehose's form.
func DeliveryStreamARN(region, name string) string {
	return "arn:aws:firehose:" + region + ":" + AccountID + ":deliverystream/" + name
}

// Firehose operation names (X-Amz-Target suffixes).
const (
	OpPutRecord              = "PutRecord"
	OpPutRecordBatch         = "PutRecordBatch"
	OpListDeliveryStreams    = "ListDeliveryStreams"
	OpDescribeDeliveryStream = "DescribeDeliveryStream"
)

// Error codes sent in the "__type" member and the X-Amzn-ErrorType header.
const (
	ErrResourceNotFound      = "ResourceNotFoundException"   // 400 (404 on the plain door)
	ErrInvalidArgument       = "InvalidArgumentException"    // 400: validation failed
	ErrSerialization         = "SerializationException"      // 400: body is not decodable JSON/base64
	ErrServiceUnavailable    = "ServiceUnavailableException" // 503: backpressure, retry later
	ErrInternalFailure       = "InternalFailure"             // 500
	ErrUnknownOperation      = "UnknownOperationException"   // 400: unsupported X-Amz-Target
	ErrMissingAuthToken      = "MissingAuthenticationTokenException"
	ErrUnrecognizedClient    = "UnrecognizedClientException"
	ErrInvalidSignature      = "InvalidSignatureException"
	ErrIncompleteSignature   = "IncompleteSignatureException"
	ErrRequestEntityTooLarge = "RequestEntityTooLargeException" // 413
	ErrUnsupportedMediaType  = "UnsupportedMediaTypeException"  // 415
	ErrMethodNotAllowed      = "MethodNotAllowedException"      // 405
	ErrNotFound              = "NotFoundException"              // 404: no such route
	ErrAccessDenied          = "AccessDeniedException"          // 403: Host refused on a loopback listener
)

// Record is one Firehose record; Data is base64 in JSON.
type Record struct {
	Data []byte `json:"Data"`
}

// PutRecordInput is the PutRecord request body.
type PutRecordInput struct {
	DeliveryStreamName string `json:"DeliveryStreamName"`
	Record             Record `json:"Record"`
}

// PutRecordOutput is the PutRecord response body.
type PutRecordOutput struct {
	RecordID  string `json:"RecordId"`
	Encrypted bool   `json:"Encrypted"`
}

// PutRecordBatchInput is the PutRecordBatch request body.
type PutRecordBatchInput struct {
	DeliveryStreamName string   `json:"DeliveryStreamName"`
	Records            []Record `json:"Records"`
}

// PutRecordBatchOutput is the PutRecordBatch response body.
type PutRecordBatchOutput struct {
	FailedPutCount   int                         `json:"FailedPutCount"`
	Encrypted        bool                        `json:"Encrypted"`
	RequestResponses []PutRecordBatchEntryResult `json:"RequestResponses"`
}

// PutRecordBatchEntryResult is one record's outcome, in request order: a
// RecordID on success, an ErrorCode and ErrorMessage on failure.
type PutRecordBatchEntryResult struct {
	RecordID     string `json:"RecordId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// ListDeliveryStreamsInput is the ListDeliveryStreams request body.
type ListDeliveryStreamsInput struct {
	Limit                            *int   `json:"Limit,omitempty"`
	DeliveryStreamType               string `json:"DeliveryStreamType,omitempty"`
	ExclusiveStartDeliveryStreamName string `json:"ExclusiveStartDeliveryStreamName,omitempty"`
}

// ListDeliveryStreamsOutput is the ListDeliveryStreams response body.
type ListDeliveryStreamsOutput struct {
	DeliveryStreamNames    []string `json:"DeliveryStreamNames"`
	HasMoreDeliveryStreams bool     `json:"HasMoreDeliveryStreams"`
}

// DescribeDeliveryStreamInput is the DescribeDeliveryStream request body.
type DescribeDeliveryStreamInput struct {
	DeliveryStreamName          string `json:"DeliveryStreamName"`
	Limit                       *int   `json:"Limit,omitempty"`
	ExclusiveStartDestinationID string `json:"ExclusiveStartDestinationId,omitempty"`
}

// DescribeDeliveryStreamOutput is the DescribeDeliveryStream response body.
type DescribeDeliveryStreamOutput struct {
	DeliveryStreamDescription DeliveryStreamDescription `json:"DeliveryStreamDescription"`
}

// DeliveryStreamDescription describes one stream (pipeline).
type DeliveryStreamDescription struct {
	DeliveryStreamName   string                   `json:"DeliveryStreamName"`
	DeliveryStreamARN    string                   `json:"DeliveryStreamARN"`
	DeliveryStreamStatus string                   `json:"DeliveryStreamStatus"`
	DeliveryStreamType   string                   `json:"DeliveryStreamType"`
	VersionID            string                   `json:"VersionId"`
	CreateTimestamp      EpochSeconds             `json:"CreateTimestamp"`
	LastUpdateTimestamp  EpochSeconds             `json:"LastUpdateTimestamp"`
	Encryption           *EncryptionDescription   `json:"DeliveryStreamEncryptionConfiguration,omitempty"`
	Destinations         []DestinationDescription `json:"Destinations"`
	HasMoreDestinations  bool                     `json:"HasMoreDestinations"`
}

// EncryptionDescription is DeliveryStreamEncryptionConfiguration.
type EncryptionDescription struct {
	Status string `json:"Status"`
}

// DestinationDescription is one destination; exactly the members that apply
// are set.
type DestinationDescription struct {
	DestinationID                      string                              `json:"DestinationId"`
	S3DestinationDescription           *S3DestinationDescription           `json:"S3DestinationDescription,omitempty"`
	ExtendedS3DestinationDescription   *ExtendedS3DestinationDescription   `json:"ExtendedS3DestinationDescription,omitempty"`
	HTTPEndpointDestinationDescription *HTTPEndpointDestinationDescription `json:"HttpEndpointDestinationDescription,omitempty"`
}

// S3DestinationDescription carries the members Firehose marks required.
type S3DestinationDescription struct {
	RoleARN                 string                  `json:"RoleARN"`
	BucketARN               string                  `json:"BucketARN"`
	Prefix                  string                  `json:"Prefix,omitempty"`
	ErrorOutputPrefix       string                  `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints          BufferingHints          `json:"BufferingHints"`
	CompressionFormat       string                  `json:"CompressionFormat"`
	EncryptionConfiguration EncryptionConfiguration `json:"EncryptionConfiguration"`
}

// ExtendedS3DestinationDescription is S3DestinationDescription plus S3BackupMode.
type ExtendedS3DestinationDescription struct {
	S3DestinationDescription
	S3BackupMode string `json:"S3BackupMode"`
}

// HTTPEndpointDestinationDescription describes an HTTP endpoint destination.
type HTTPEndpointDestinationDescription struct {
	EndpointConfiguration HTTPEndpointDescription `json:"EndpointConfiguration"`
	BufferingHints        BufferingHints          `json:"BufferingHints"`
	S3BackupMode          string                  `json:"S3BackupMode"`
}

// HTTPEndpointDescription is the endpoint's URL and name (never its key).
type HTTPEndpointDescription struct {
	URL  string `json:"Url"`
	Name string `json:"Name,omitempty"`
}

// BufferingHints are a destination's flush thresholds.
type BufferingHints struct {
	SizeInMBs         int `json:"SizeInMBs"`
	IntervalInSeconds int `json:"IntervalInSeconds"`
}

// EncryptionConfiguration is always "no encryption" for Hydrant.
type EncryptionConfiguration struct {
	NoEncryptionConfig string `json:"NoEncryptionConfig"`
}

// EpochSeconds marshals a time as a JSON number of seconds since the epoch
// with millisecond precision, the AWS JSON timestamp format.
type EpochSeconds time.Time

// MarshalJSON implements json.Marshaler.
func (t EpochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	if ms%1000 == 0 {
		return fmt.Appendf(nil, "%d", ms/1000), nil
	}
	return fmt.Appendf(nil, "%d.%03d", ms/1000, ms%1000), nil
}

// ErrorResponse is every error body of both doors: Type is the error code,
// Errors lists malformed lines (plain door only).
type ErrorResponse struct {
	Type    string      `json:"__type"`
	Message string      `json:"message"`
	Errors  []LineError `json:"errors,omitempty"`
}

// LineError is one rejected record of the plain door. Line is 1-based (for a
// JSON array body, the line where the bad element starts).
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// RecordsResponse is the plain door's success body.
type RecordsResponse struct {
	Accepted int            `json:"accepted"`
	Failed   int            `json:"failed"`
	Records  []RecordResult `json:"records"`
	Errors   []LineError    `json:"errors,omitempty"`
}

// RecordResult locates one accepted record of the plain door.
type RecordResult struct {
	RecordID       string `json:"record_id"`
	ShardID        string `json:"shard_id"`
	SequenceNumber string `json:"sequence_number"`
}

// Error is an error answer from a Hydrant (or Firehose) server.
type Error struct {
	StatusCode int
	Code       string
	Message    string
	RequestID  string
	Errors     []LineError
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.StatusCode, e.Message)
}

// Retryable reports whether resending the same request may succeed.
func (e *Error) Retryable() bool {
	switch e.StatusCode {
	case 429, 500, 502, 503, 504:
		return true
	}
	switch e.Code {
	case ErrServiceUnavailable, ErrInternalFailure, "ThrottlingException", "LimitExceededException":
		return true
	}
	return false
}
