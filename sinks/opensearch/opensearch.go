// Package opensearch delivers batches to an OpenSearch (or Elasticsearch)
// cluster with the _bulk API, as Firehose does.
//
// Each record becomes an index action on the index named by the
// destination's index plus Firehose's rotation suffix from the record's
// arrival time (UTC). With a document id expression the action carries
// _id, so a retried flush overwrites instead of duplicating; without,
// the cluster assigns ids (Firehose's NO_DOCUMENT_ID: a retry may
// duplicate). A flush is split into requests of at most MaxBulkBytes.
//
// The answer is read item by item: an item refused with a 4xx status
// (a mapping conflict, a document that is not an object) fails alone and
// permanently, to the backup as opensearch-failed with the item's error;
// 429 and 5xx items, and whole-request failures, are retried.
package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"

	"github.com/hydrant-io/hydrant/internal/jsonq"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Rotation periods, as Firehose's IndexRotationPeriod.
const (
	RotateNone  = "none"
	RotateHour  = "one_hour"
	RotateDay   = "one_day"
	RotateWeek  = "one_week"
	RotateMonth = "one_month"
)

// DefaultMaxBulkBytes bounds one _bulk request body.
const DefaultMaxBulkBytes = 5 << 20

// Config describes one destination.
type Config struct {
	// Index is the index name, before the rotation suffix.
	Index string
	// Rotation is one of the Rotate* periods; "" means RotateNone.
	Rotation string
	// DocumentID is a jq expression giving each document's _id; "" lets
	// the cluster assign ids.
	DocumentID string
	// MaxBulkBytes bounds one _bulk request; 0 means DefaultMaxBulkBytes.
	MaxBulkBytes int
}

// Sink writes to one cluster through client, which the caller owns (one
// per store).
type Sink struct {
	client *opensearch.Client
	cfg    Config
	id     *jsonq.Query // nil: server-assigned ids
}

// New returns a sink. client should have its own retries off: the
// runtime retries, and a client retry of a bulk without ids duplicates.
func New(client *opensearch.Client, cfg Config) (*Sink, error) {
	switch cfg.Rotation {
	case "":
		cfg.Rotation = RotateNone
	case RotateNone, RotateHour, RotateDay, RotateWeek, RotateMonth:
	default:
		return nil, fmt.Errorf("opensearch: rotation %q: want none, one_hour, one_day, one_week or one_month", cfg.Rotation)
	}
	if cfg.Index == "" {
		return nil, errors.New("opensearch: no index")
	}
	if cfg.MaxBulkBytes <= 0 {
		cfg.MaxBulkBytes = DefaultMaxBulkBytes
	}
	s := &Sink{client: client, cfg: cfg}
	if cfg.DocumentID != "" {
		q, err := jsonq.Compile(cfg.DocumentID)
		if err != nil {
			return nil, fmt.Errorf("opensearch: document_id: %w", err)
		}
		s.id = q
	}
	return s, nil
}

// IndexName is the index a record arriving at t goes to: Firehose's
// rotation suffixes (UTC): -yyyy-MM-dd-HH, -yyyy-MM-dd, -yyyy-wWW (ISO
// week: Firehose's example, 2016-02-25 in -2016-w08, is ISO week 8),
// -yyyy-MM.
func IndexName(index, rotation string, t time.Time) string {
	t = t.UTC()
	switch rotation {
	case RotateHour:
		return index + t.Format("-2006-01-02-15")
	case RotateDay:
		return index + t.Format("-2006-01-02")
	case RotateWeek:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%s-%04d-w%02d", index, y, w)
	case RotateMonth:
		return index + t.Format("-2006-01")
	}
	return index
}

// Write sends b's records with _bulk. See the package doc.
func (s *Sink) Write(ctx context.Context, b *record.Batch) error {
	failed := map[int]error{}
	done := make([]bool, len(b.Records)) // delivered
	delivered := 0
	var req bulk
	var reqErr error
	send := func() {
		n, err := s.send(ctx, &req, done, failed)
		delivered += n
		reqErr = err
		req.reset()
	}
	for i := range b.Records {
		action, doc, err := s.item(&b.Records[i])
		if err != nil {
			failed[i] = itemError(err)
			continue
		}
		if len(req.idx) > 0 && req.body.Len()+len(action)+len(doc)+2 > s.cfg.MaxBulkBytes {
			if send(); reqErr != nil {
				break
			}
		}
		req.add(i, action, doc)
	}
	if reqErr == nil && len(req.idx) > 0 {
		send()
	}
	if reqErr != nil {
		if delivered == 0 && len(failed) == 0 {
			return reqErr // nothing happened: the whole batch is retried
		}
		// Some requests went through: the retry carries only the rest.
		for i := range b.Records {
			if _, ok := failed[i]; !ok && !done[i] {
				failed[i] = reqErr
			}
		}
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

// bulk is one _bulk request being built: NDJSON action and document
// lines, and the batch index of each item, in order.
type bulk struct {
	body bytes.Buffer
	idx  []int
}

func (q *bulk) add(i int, action, doc []byte) {
	q.body.Write(action)
	q.body.WriteByte('\n')
	q.body.Write(doc)
	q.body.WriteByte('\n')
	q.idx = append(q.idx, i)
}

func (q *bulk) reset() {
	q.body.Reset()
	q.idx = q.idx[:0]
}

// item builds a record's action line and its document, one line of JSON.
func (s *Sink) item(r *record.Record) (action, doc []byte, err error) {
	doc = bytes.TrimSpace(r.Data)
	if !jsonq.Valid(doc) {
		return nil, nil, errors.New("record is not a JSON document")
	}
	if bytes.ContainsAny(doc, "\r\n") {
		// _bulk is NDJSON: a pretty-printed record must become one line.
		var c bytes.Buffer
		if err := json.Compact(&c, doc); err != nil {
			return nil, nil, fmt.Errorf("record is not a JSON document: %w", err)
		}
		doc = c.Bytes()
	}
	meta := actionMeta{Index: IndexName(s.cfg.Index, s.cfg.Rotation, r.Arrived)}
	if s.id != nil {
		if meta.ID, err = s.documentID(doc); err != nil {
			return nil, nil, err
		}
	}
	action, err = json.Marshal(map[string]actionMeta{"index": meta})
	return action, doc, err
}

type actionMeta struct {
	Index string `json:"_index"`
	ID    string `json:"_id,omitempty"`
}

// documentID evaluates the document id expression: a string, or a number
// or boolean as its JSON text; anything else fails the record.
func (s *Sink) documentID(doc []byte) (string, error) {
	var v any
	var err error
	if s.id.Plain() {
		v, err = s.id.Scan(doc)
	} else {
		var d any
		if d, err = jsonq.Decode(doc); err == nil {
			v, _, err = s.id.First(d)
		}
	}
	if err != nil {
		return "", fmt.Errorf("document_id: %w", err)
	}
	switch x := v.(type) {
	case string:
		if x != "" && len(x) <= 512 {
			return x, nil
		}
	case json.Number:
		return x.String(), nil
	case int:
		return fmt.Sprint(x), nil
	case float64:
		b, _ := json.Marshal(x)
		return string(b), nil
	case bool:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("document_id: %s is not a usable id (a non-empty string of at most 512 bytes, or a number)", describe(v))
}

func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 64 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}

// itemError marks one record's own failure: permanent, opensearch-failed.
func itemError(err error) error {
	return sinks.Permanent(record.WithErrorType(err, record.OpenSearchFailed))
}

// send posts one request and reads its items: delivered ones are marked
// in done, refused ones get their error in failed. It returns how many
// were delivered, and an error when the request failed as a whole.
func (s *Sink) send(ctx context.Context, q *bulk, done []bool, failed map[int]error) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/_bulk", bytes.NewReader(q.body.Bytes()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := s.client.Stream(req)
	if err != nil {
		return 0, fmt.Errorf("opensearch: bulk: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, fmt.Errorf("opensearch: bulk: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp, body)
	}
	items, err := ParseBulkResponse(body)
	if err != nil {
		return 0, fmt.Errorf("opensearch: bulk: %w", err)
	}
	if len(items) != len(q.idx) {
		return 0, fmt.Errorf("opensearch: bulk: %d items answered for %d sent", len(items), len(q.idx))
	}
	n := 0
	for k, it := range items {
		i := q.idx[k]
		switch {
		case it.Status >= 200 && it.Status < 300:
			done[i] = true
			n++
		case it.Status == http.StatusTooManyRequests || it.Status >= 500:
			failed[i] = fmt.Errorf("opensearch: item %d: %d %s", k, it.Status, it.Error)
		default:
			failed[i] = itemError(fmt.Errorf("%d %s", it.Status, it.Error))
		}
	}
	return n, nil
}

// maxResponseBytes bounds the answer read: items are small.
const maxResponseBytes = 64 << 20

// statusError is a whole request refused: 400 and 413 can never pass
// (a request this sink built is malformed, or larger than the cluster
// takes: lower max_bulk_bytes), the rest (auth, 429, 5xx) may.
func statusError(resp *http.Response, body []byte) error {
	msg := string(bytes.TrimSpace(body))
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	err := fmt.Errorf("opensearch: bulk: %s: %s", resp.Status, msg)
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return sinks.Permanent(record.WithErrorType(err, record.OpenSearchFailed))
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return &sinks.RetryAfterError{Err: err, After: d}
		}
	}
	return err
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(v string) (time.Duration, bool) {
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n <= 0 || n > 3600 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// Item is one action's result in a _bulk answer.
type Item struct {
	Status int
	// Error is the item's error, "type: reason", empty on success.
	Error string
}

// ParseBulkResponse reads a _bulk answer: {"errors": bool, "items":
// [{"<action>": {"status": n, "error": {"type", "reason"}}}]}.
func ParseBulkResponse(body []byte) ([]Item, error) {
	var r struct {
		Items []map[string]struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("answer is not a _bulk response: %w", err)
	}
	out := make([]Item, len(r.Items))
	for k, m := range r.Items {
		if len(m) != 1 {
			return nil, fmt.Errorf("item %d has %d actions", k, len(m))
		}
		for _, v := range m {
			out[k] = Item{Status: v.Status, Error: itemErrorText(v.Error)}
		}
	}
	return out, nil
}

// itemErrorText renders an item's error: an object {"type", "reason"}
// (OpenSearch) or a string (some compatible servers).
func itemErrorText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var e struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(raw, &e) == nil && (e.Type != "" || e.Reason != "") {
		return e.Type + ": " + e.Reason
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	return string(raw)
}

// Close does nothing: the client belongs to the store.
func (s *Sink) Close(context.Context) error { return nil }

// Check reports whether the cluster answers (GET /).
func (s *Sink) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Stream(req)
	if err != nil {
		return fmt.Errorf("opensearch: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("opensearch: GET /: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Checker = (*Sink)(nil)
)

// ClientConfig is a store's connection settings.
type ClientConfig struct {
	// Addresses are node URLs; a path is kept as a prefix (a server that
	// serves the API under /es, say).
	Addresses          []string
	Username, Password string
	// CAFile is a PEM file of certificate authorities to trust besides
	// the system's; InsecureSkipVerify turns certificate checks off.
	CAFile             string
	InsecureSkipVerify bool
	// Timeout bounds one request; 0 means 2 minutes.
	Timeout time.Duration
}

// NewClient returns a client for cfg with the client's own retries off:
// the runtime retries, and a retried bulk without ids would duplicate.
func NewClient(cfg ClientConfig) (*opensearch.Client, error) {
	oc := opensearch.Config{
		Addresses: cfg.Addresses, Username: cfg.Username, Password: cfg.Password,
		InsecureSkipVerify: cfg.InsecureSkipVerify, DisableRetry: true,
		RequestTimeout: cfg.Timeout,
	}
	if oc.RequestTimeout == 0 {
		oc.RequestTimeout = 2 * time.Minute
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("opensearch: ca_file: %w", err)
		}
		oc.CACert = pem
	}
	c, err := opensearch.NewClient(oc)
	if err != nil {
		return nil, fmt.Errorf("opensearch: %w", err)
	}
	return c, nil
}
