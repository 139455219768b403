package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client is a small Firehose-protocol client for Hydrant (it also works
// against AWS with WithCredentials). It retries throttled and failed records.
// A Client is safe for concurrent use.
type Client struct {
	endpoint    string
	http        *http.Client
	creds       *Credentials
	region      string
	apiKey      string
	maxAttempts int
	baseBackoff time.Duration
	maxBackoff  time.Duration
	now         func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default http.DefaultClient).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithCredentials signs Firehose requests with SigV4 for region.
func WithCredentials(cr Credentials, region string) Option {
	return func(c *Client) { c.creds, c.region = &cr, region }
}

// WithAPIKey sends "Authorization: Bearer key": on batch-door requests, and
// on Firehose requests unless WithCredentials signs them.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithMaxAttempts sets how many times a request (or a failed record) is sent
// in total (default 3, minimum 1).
func WithMaxAttempts(n int) Option { return func(c *Client) { c.maxAttempts = max(n, 1) } }

// WithBackoff sets the first retry delay and its cap (defaults 100ms, 5s).
// Delays double per attempt with ±20% jitter.
func WithBackoff(base, limit time.Duration) Option {
	return func(c *Client) { c.baseBackoff, c.maxBackoff = base, limit }
}

// NewClient returns a client for the server at endpoint (e.g.
// "http://127.0.0.1:4575").
func NewClient(endpoint string, opts ...Option) *Client {
	c := &Client{
		endpoint:    strings.TrimRight(endpoint, "/"),
		http:        http.DefaultClient,
		region:      "us-east-1",
		maxAttempts: 3,
		baseBackoff: 100 * time.Millisecond,
		maxBackoff:  5 * time.Second,
		now:         time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BatchError reports records that still failed after all attempts.
type BatchError struct {
	// Failed holds the indexes (into the caller's slice) of failed records.
	Failed []int
	// Code and Message are those of the last failure seen.
	Code, Message string
}

// Error implements error.
func (e *BatchError) Error() string {
	return fmt.Sprintf("%d records failed: %s: %s", len(e.Failed), e.Code, e.Message)
}

// PutRecord sends one record and returns its record id.
func (c *Client) PutRecord(ctx context.Context, stream string, data []byte) (string, error) {
	body := appendJSONString([]byte(`{"DeliveryStreamName":`), stream)
	body = append(body, `,"Record":{"Data":"`...)
	body = base64.StdEncoding.AppendEncode(body, data)
	body = append(body, `"}}`...)
	var out PutRecordOutput
	err := c.retry(ctx, func() error { return c.call(ctx, OpPutRecord, body, &out) })
	return out.RecordID, err
}

// PutRecordBatch sends records (at most 500, at most 4 MiB) and returns their
// record ids in order. Records that fail (per-record errors or a retryable
// whole-request error) are resent, up to the attempt limit; if some still
// fail, their ids are "" and the error is a *BatchError.
func (c *Client) PutRecordBatch(ctx context.Context, stream string, records [][]byte) ([]string, error) {
	ids := make([]string, len(records))
	pending := make([]int, len(records))
	for i := range pending {
		pending[i] = i
	}
	var lastCode, lastMsg string
	for attempt := 0; attempt < c.maxAttempts && len(pending) > 0; attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, attempt); err != nil {
				return ids, err
			}
		}
		body := appendJSONString([]byte(`{"DeliveryStreamName":`), stream)
		body = append(body, `,"Records":[`...)
		for n, i := range pending {
			if n > 0 {
				body = append(body, ',')
			}
			body = append(body, `{"Data":"`...)
			body = base64.StdEncoding.AppendEncode(body, records[i])
			body = append(body, `"}`...)
		}
		body = append(body, "]}"...)
		var out PutRecordBatchOutput
		if err := c.call(ctx, OpPutRecordBatch, body, &out); err != nil {
			var ae *Error
			if errors.As(err, &ae) && !ae.Retryable() {
				return ids, err
			}
			if ctx.Err() != nil {
				return ids, err
			}
			lastCode, lastMsg = "RequestFailed", err.Error()
			continue
		}
		if len(out.RequestResponses) != len(pending) {
			return ids, fmt.Errorf("put record batch: %d responses for %d records", len(out.RequestResponses), len(pending))
		}
		still := pending[:0]
		for n, r := range out.RequestResponses {
			if r.ErrorCode != "" {
				still = append(still, pending[n])
				lastCode, lastMsg = r.ErrorCode, r.ErrorMessage
				continue
			}
			ids[pending[n]] = r.RecordID
		}
		pending = still
	}
	if len(pending) > 0 {
		return ids, &BatchError{Failed: pending, Code: lastCode, Message: lastMsg}
	}
	return ids, nil
}

// PutRecords sends an NDJSON (or JSON array, with contentType
// "application/json") body to the plain batch door
// PUT /v1/streams/{stream}/records, with query parameters such as
// partition_key_field or partial (nil for none). It retries on 503 and
// network errors.
func (c *Client) PutRecords(ctx context.Context, stream string, query url.Values, contentType string, body []byte) (*RecordsResponse, error) {
	u := c.endpoint + "/v1/streams/" + url.PathEscape(stream) + "/records"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var out RecordsResponse
	err := c.retry(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", contentType)
		if c.apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+c.apiKey)
		}
		return c.do(req, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// call performs one Firehose operation.
func (c *Client) call(ctx context.Context, op string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("X-Amz-Target", TargetPrefix+op)
	switch {
	case c.creds != nil:
		SignRequest(req, body, *c.creds, c.region, c.now())
	case c.apiKey != "": // a server with only API keys guards this door with them too
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var er ErrorResponse
		_ = json.Unmarshal(data, &er) // a non-JSON body still yields an Error
		code := resp.Header.Get("X-Amzn-ErrorType")
		if code == "" {
			code = er.Type
		}
		if i := strings.IndexByte(code, ':'); i >= 0 {
			code = code[:i]
		}
		if code == "" {
			code = http.StatusText(resp.StatusCode)
		}
		return &Error{StatusCode: resp.StatusCode, Code: code, Message: er.Message,
			RequestID: resp.Header.Get("X-Amzn-Requestid"), Errors: er.Errors}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// retry runs f up to maxAttempts times while it fails retryably.
func (c *Client) retry(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; attempt < c.maxAttempts; attempt++ {
		if attempt > 0 {
			if serr := c.sleep(ctx, attempt); serr != nil {
				return err
			}
		}
		if err = f(); err == nil {
			return nil
		}
		var ae *Error
		if (errors.As(err, &ae) && !ae.Retryable()) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (c *Client) sleep(ctx context.Context, attempt int) error {
	d := c.baseBackoff << (attempt - 1)
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s) // cannot fail for a string
	return append(dst, q...)
}
