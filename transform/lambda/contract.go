// Package lambda runs processors that speak Firehose's Lambda data
// transformation contract: the event JSON (invocationId,
// deliveryStreamArn, region, records with recordId,
// approximateArrivalTimestamp, base64 data and kinesisRecordMetadata) goes
// out, the response JSON (per record: result Ok, Dropped or
// ProcessingFailed, base64 data, metadata.partitionKeys) comes back.
//
// Two transports carry it: NewHTTP POSTs each event to a URL (an existing
// Firehose Lambda handler behind any HTTP front, e.g. the Lambda runtime
// interface emulator), NewExec writes each event as one line to the stdin
// of a long-lived child process and reads one response line from its
// stdout.
//
// A batch is split into invocations whose event stays under Lambda's 6 MB
// payload limit. A transport failure, a non-200 answer, a function error or
// a response that is not the contract's JSON fails the call (the runtime
// retries it Retries times, then backs every record up as
// processing-failed). A response that leaves out an id or names one twice
// fails every record of that invocation (Firehose's
// Lambda.MissingRecordId / Lambda.DuplicatedRecordId) without a retry:
// asking the same handler again gives the same answer.
package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

const (
	// MaxPayload is Lambda's synchronous invocation limit (6 MB), which
	// bounds every event Hydrant sends.
	MaxPayload = 6 << 20
	// MaxResponse bounds what Hydrant reads back. Lambda itself stops at
	// 6 MB; HTTP and exec handlers may grow records a little past that.
	MaxResponse = 4 * MaxPayload
	// recordOverhead is a generous bound on the JSON around one record's
	// base64 data, ids and metadata, used to split batches.
	recordOverhead = 512
)

// Results of the contract.
const (
	ResultOk               = "Ok"
	ResultDropped          = "Dropped"
	ResultProcessingFailed = "ProcessingFailed"
)

// Errors of the contract, named after Firehose's Lambda error codes.
var (
	ErrJSONProcessing = errors.New("Lambda.JsonProcessingException")
	ErrMissingID      = errors.New("Lambda.MissingRecordId")
	ErrDuplicatedID   = errors.New("Lambda.DuplicatedRecordId")
	ErrFunction       = errors.New("Lambda.FunctionError")
	ErrTooLarge       = errors.New("record too large for one invocation")
	// ErrFailedByHandler is the error of a record the handler answered
	// ProcessingFailed.
	ErrFailedByHandler = errors.New("ProcessingFailed returned by the processor")
	// errStopped is returned by calls after Close.
	errStopped = errors.New("lambda: processor closed")
)

// invoker carries one event to the handler. accept checks the answer while
// the transport still owns it: an exec child whose answer broke the contract
// is restarted before anyone else talks to it, so one stray line cannot
// shift every later answer. timeout bounds the exchange itself, not a wait
// for a busy transport.
type invoker interface {
	invoke(ctx context.Context, event []byte, timeout time.Duration, accept func(answer []byte) error) error
	close(ctx context.Context) error
}

// Event is the request Firehose sends to a transformation Lambda.
type Event struct {
	InvocationID      string        `json:"invocationId"`
	DeliveryStreamARN string        `json:"deliveryStreamArn"`
	Region            string        `json:"region"`
	Records           []EventRecord `json:"records"`
}

// EventRecord is one record of an Event. Data is base64 on the wire.
type EventRecord struct {
	RecordID                    string          `json:"recordId"`
	ApproximateArrivalTimestamp int64           `json:"approximateArrivalTimestamp"`
	Data                        []byte          `json:"data"`
	KinesisRecordMetadata       *KinesisRecMeta `json:"kinesisRecordMetadata,omitempty"`
}

// KinesisRecMeta locates a record in Hydrant's stream, in the shape Firehose
// gives records read from a Kinesis data stream.
type KinesisRecMeta struct {
	ShardID                     string `json:"shardId"`
	PartitionKey                string `json:"partitionKey"`
	ApproximateArrivalTimestamp int64  `json:"approximateArrivalTimestamp"`
	SequenceNumber              string `json:"sequenceNumber"`
	SubsequenceNumber           int    `json:"subsequenceNumber"`
}

// Response is what the handler answers.
type Response struct {
	Records []ResponseRecord `json:"records"`
	// ErrorMessage and ErrorType are set by Lambda runtimes when the
	// function itself failed.
	ErrorMessage string `json:"errorMessage,omitempty"`
	ErrorType    string `json:"errorType,omitempty"`
}

// ResponseRecord is the verdict on one record.
type ResponseRecord struct {
	RecordID string  `json:"recordId"`
	Result   string  `json:"result"`
	Data     *[]byte `json:"data,omitempty"`
	Metadata struct {
		PartitionKeys map[string]string `json:"partitionKeys,omitempty"`
		// OTFMetadata routes the record to an Iceberg table.
		OTFMetadata *OTFMetadata `json:"otfMetadata,omitempty"`
	} `json:"metadata"`
}

// OTFMetadata is Firehose's per-record routing to an Iceberg table.
type OTFMetadata struct {
	DestinationDatabaseName string `json:"destinationDatabaseName"`
	DestinationTableName    string `json:"destinationTableName"`
	// Operation is insert, update or delete.
	Operation string `json:"operation,omitempty"`
}

// Config is what both transports share.
type Config struct {
	// DeliveryStreamARN and Region fill the event's fields of those names.
	DeliveryStreamARN string
	Region            string
	// Timeout bounds one invocation; 0 means 60s.
	Timeout time.Duration
	// Retries is how often a failed call is retried (Firehose's
	// NumberOfRetries); negative means 0.
	Retries int
}

// Processor is a transform.Processor over one transport.
type Processor struct {
	cfg Config
	inv invoker
	// newID names invocations; replaced in tests.
	newID func() string
}

var (
	_ transform.Processor = (*Processor)(nil)
	_ transform.Retrier   = (*Processor)(nil)
)

func newProcessor(cfg Config, inv invoker) *Processor {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	cfg.Retries = max(cfg.Retries, 0)
	return &Processor{cfg: cfg, inv: inv, newID: uuid.NewString}
}

// Retries implements transform.Retrier.
func (p *Processor) Retries() int { return p.cfg.Retries }

// Close releases the transport (an exec child is stopped).
func (p *Processor) Close(ctx context.Context) error { return p.inv.close(ctx) }

// Process sends in as one or more invocations and maps the verdicts back.
func (p *Processor) Process(ctx context.Context, in []record.Record) ([]transform.Result, error) {
	res := make([]transform.Result, len(in))
	ids, sub := transform.RecordIDs(in)
	for start := 0; start < len(in); {
		end, size := start+1, encodedSize(&in[start])
		for end < len(in) {
			n := encodedSize(&in[end])
			if size+n > MaxPayload {
				break
			}
			size += n
			end++
		}
		if err := p.invoke(ctx, in[start:end], ids[start:end], sub[start:end], res[start:end]); err != nil {
			return nil, err
		}
		start = end
	}
	return res, nil
}

// encodedSize estimates a record's share of an event; invoke checks the
// real size, since JSON escaping can make ids and keys longer.
func encodedSize(r *record.Record) int {
	return (len(r.Data)+2)/3*4 + 2*len(r.ID) + len(r.Key) + recordOverhead
}

// invoke runs one invocation for in (named ids) and fills res. An event
// over MaxPayload is split in halves; a single record that does not fit
// fails alone.
func (p *Processor) invoke(ctx context.Context, in []record.Record, ids []string, sub []int, res []transform.Result) error {
	ev := Event{InvocationID: p.newID(), DeliveryStreamARN: p.cfg.DeliveryStreamARN, Region: p.cfg.Region,
		Records: make([]EventRecord, len(in))}
	for i := range in {
		r := &in[i]
		ms := r.Arrived.UnixMilli()
		ev.Records[i] = EventRecord{RecordID: ids[i], ApproximateArrivalTimestamp: ms, Data: r.Data,
			KinesisRecordMetadata: &KinesisRecMeta{ShardID: string(r.Shard), PartitionKey: r.Key,
				ApproximateArrivalTimestamp: ms, SequenceNumber: strconv.FormatUint(r.Seq, 10), SubsequenceNumber: sub[i]}}
	}
	body, err := json.Marshal(&ev)
	if err != nil {
		return fmt.Errorf("lambda: encode event: %w", err)
	}
	if len(body) > MaxPayload {
		if len(in) == 1 {
			res[0] = transform.Result{Status: transform.Failed,
				Err: fmt.Errorf("%w: its event is %d bytes, %d allowed", ErrTooLarge, len(body), MaxPayload)}
			return nil
		}
		h := len(in) / 2
		if err := p.invoke(ctx, in[:h], ids[:h], sub[:h], res[:h]); err != nil {
			return err
		}
		return p.invoke(ctx, in[h:], ids[h:], sub[h:], res[h:])
	}
	err = p.inv.invoke(ctx, body, p.cfg.Timeout, func(answer []byte) error {
		return Decode(answer, in, ids, res)
	})
	if errors.Is(err, ErrMissingID) || errors.Is(err, ErrDuplicatedID) {
		return nil // every record of this invocation failed (in res), not worth a retry
	}
	return err
}

// Decode parses a handler's response to an invocation of in (named ids)
// and fills res, one result per record. It returns an error when the
// response as a whole is unusable; when ids are missing, unknown or
// duplicated it fails every record in res and also returns that error
// (wrapping ErrMissingID or ErrDuplicatedID).
func Decode(body []byte, in []record.Record, ids []string, res []transform.Result) error {
	var resp Response
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&resp); err != nil {
		return fmt.Errorf("%w: %w", ErrJSONProcessing, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the response object", ErrJSONProcessing)
	}
	if resp.Records == nil && (resp.ErrorMessage != "" || resp.ErrorType != "") {
		return fmt.Errorf("%w: %s: %s", ErrFunction, resp.ErrorType, resp.ErrorMessage)
	}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	got := make([]bool, len(ids))
	failAll := func(err error) error {
		for i := range res {
			res[i] = transform.Result{Status: transform.Failed, Err: err}
		}
		return err
	}
	for _, rr := range resp.Records {
		i, ok := index[rr.RecordID]
		if !ok {
			return failAll(fmt.Errorf("%w: the response names record %q, which was not sent", ErrMissingID, rr.RecordID))
		}
		if got[i] {
			return failAll(fmt.Errorf("%w: record %q is answered twice", ErrDuplicatedID, rr.RecordID))
		}
		got[i] = true
		res[i] = verdict(&rr, in[i])
	}
	for i, ok := range got {
		if !ok {
			return failAll(fmt.Errorf("%w: no answer for record %q", ErrMissingID, ids[i]))
		}
	}
	return nil
}

func verdict(rr *ResponseRecord, in record.Record) transform.Result {
	switch rr.Result {
	case ResultOk:
		if rr.Data == nil {
			return transform.Result{Status: transform.Failed, Err: fmt.Errorf("%w: record %q is Ok but has no data", ErrJSONProcessing, rr.RecordID)}
		}
		out := transform.WithOutput(in, *rr.Data, rr.Metadata.PartitionKeys)
		if o := rr.Metadata.OTFMetadata; o != nil {
			out = transform.WithMeta(out, map[string]string{record.OTFDatabase: o.DestinationDatabaseName,
				record.OTFTable: o.DestinationTableName, record.OTFOperation: o.Operation})
		}
		return transform.Result{Status: transform.Ok, Out: []record.Record{out}}
	case ResultDropped:
		return transform.Result{Status: transform.Dropped}
	case ResultProcessingFailed:
		return transform.Result{Status: transform.Failed, Err: ErrFailedByHandler}
	default:
		return transform.Result{Status: transform.Failed, Err: fmt.Errorf("%w: record %q has result %q, want Ok, Dropped or ProcessingFailed", ErrJSONProcessing, rr.RecordID, rr.Result)}
	}
}
