// Package httpendpoint is the `type: http` destination: it delivers batches
// with Amazon Data Firehose's HTTP-endpoint delivery protocol, so any
// Firehose HTTP destination (Vector's aws_kinesis_firehose source, a
// partner's collector, another Hydrant's receiver door) accepts them.
//
// The protocol mapping:
//
//   - Each Write POSTs one or more requests to Config.URL, each with the
//     headers X-Amz-Firehose-Protocol-Version: 1.0,
//     X-Amz-Firehose-Request-Id, X-Amz-Firehose-Source-Arn
//     (arn:aws:firehose:<region>:<account>:deliverystream/<pipeline>),
//     X-Amz-Firehose-Access-Key and X-Amz-Firehose-Common-Attributes
//     ({"commonAttributes":{...}}) when configured, Content-Type:
//     application/json and, with ContentEncoding gzip, Content-Encoding:
//     gzip; the body is {"requestId","timestamp" (ms),"records":[{"data":
//     base64}]}.
//   - A batch whose body would exceed Config.MaxBodyBytes (uncompressed) is
//     split into consecutive parts, one request each, sent in order.
//   - The request id is a name-based UUID of the batch identity (b.ID())
//     and the positions of the first and last record the request carries
//     (a request carrying the whole batch range is named by that range), so
//     a retry of the same batch, or of the same part of it, sends the same
//     id and the receiver can drop the copy. After a failed attempt the
//     sink remembers how it cut the batch, so that a retry (of the failed
//     parts, or of everything) keeps each part's id.
//   - Only a 200 whose JSON body carries the request's requestId and a
//     numeric timestamp counts as delivered. A 413 is permanent (the
//     records go to the backup at once); every other answer, a malformed
//     answer, a timeout or a network error is retried by the runtime.
//     A part that failed while others were delivered fails only its own
//     records (*sinks.BatchError). A record too large to fit a request on
//     its own fails alone, permanently.
//   - Every error is marked with record.HTTPEndpointFailed and carries, in
//     a *sinks.RetryAfterError, Firehose's back-off for the batch's
//     attempt count: 1 s doubling to 120 s with ±15 % jitter (the runtime
//     waits the longer of it and its own back-off).
package httpendpoint

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/prefix"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Defaults.
const (
	// DefaultMaxBodyBytes is Firehose's largest HTTP-endpoint request
	// body: its 64 MiB buffer maximum, uncompressed.
	DefaultMaxBodyBytes = 64 << 20
	// DefaultTimeout is Firehose's per-attempt timeout.
	DefaultTimeout = 3 * time.Minute
	// DefaultRegion and DefaultAccount fill the source ARN.
	DefaultRegion  = "us-east-1"
	DefaultAccount = "000000000000"
	// MaxResponseBytes is the largest answer read, as Firehose's 1 MiB.
	MaxResponseBytes = 1 << 20
	// maxTracked bounds the batches whose retry state is kept; trackTTL
	// drops state of batches not written for longer (the runtime gave
	// up on them: retry.duration is at most 2 h in Firehose).
	maxTracked = 10_000
	trackTTL   = 3 * time.Hour
)

// Config configures a Sink.
type Config struct {
	// URL is the endpoint requests are POSTed to, path and query sent as
	// they are; http or https. Required.
	URL string
	// AccessKey, when set, is sent verbatim as X-Amz-Firehose-Access-Key
	// (at most 4096 bytes).
	AccessKey string
	// ContentEncoding is "" or "none" (plain JSON) or "gzip".
	ContentEncoding string
	// CommonAttributes, when non-empty, are sent as
	// X-Amz-Firehose-Common-Attributes: {"commonAttributes":{...}}.
	CommonAttributes map[string]string

	// Pipeline names the delivery stream in the source ARN. Default: the
	// batch's pipeline (and "hydrant" for Check).
	Pipeline string
	// Region and Account fill the source ARN
	// arn:aws:firehose:<Region>:<Account>:deliverystream/<Pipeline>.
	// Defaults DefaultRegion and DefaultAccount.
	Region, Account string

	// MaxBodyBytes caps one request's JSON body before compression; a
	// batch that needs more is sent as several requests. Default
	// DefaultMaxBodyBytes (Firehose's). A receiver refuses bodies over
	// its own limit with 413, which is permanent: keep it at or below
	// the receiver's limit (another Hydrant's door takes 8 MiB unless
	// its server.limits.max_request_bytes is larger).
	MaxBodyBytes int64
	// Timeout bounds each request (connect, send, answer). Default
	// DefaultTimeout (Firehose's 3 minutes).
	Timeout time.Duration
	// CAFile, when set, is a PEM file of CA certificates trusted for
	// https besides the system's.
	CAFile string

	// Backoff returns the wait hinted to the runtime after the n-th
	// failed attempt of a batch (n >= 1). Default FirehoseBackoff.
	Backoff func(n int) time.Duration
	// Logger receives request failures at debug level; default discards.
	Logger *slog.Logger
	// Now is the clock of body timestamps; default time.Now.
	Now func() time.Time
}

// FirehoseBackoff is Firehose's HTTP-endpoint back-off before retry n
// (n >= 1): 1 s doubling to at most 120 s, with ±15 % jitter.
func FirehoseBackoff(n int) time.Duration {
	d := time.Second << min(max(n-1, 0), 7)
	d = min(d, 120*time.Second)
	return time.Duration(float64(d) * (0.85 + 0.3*rand.Float64()))
}

// Sink delivers batches to an HTTP endpoint. It is safe for concurrent use.
type Sink struct {
	cfg       Config
	url       string
	attrs     string // X-Amz-Firehose-Common-Attributes, "" when none
	gzip      bool
	client    *http.Client
	transport *http.Transport
	log       *slog.Logger

	mu      sync.Mutex
	tracked map[string]*tracked // by b.ID().String()
}

// tracked is what the sink remembers of a batch that failed: how often,
// and the parts (record ranges and request ids) it was cut into.
type tracked struct {
	attempts int
	parts    []part
	seen     time.Time
}

// part is a request's range of records and its id.
type part struct {
	first, last record.Position
	id          string
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Checker = (*Sink)(nil)
)

// New checks cfg and builds a Sink.
func New(cfg Config) (*Sink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("httpendpoint: url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("httpendpoint: url %q: want an http or https URL with a host", cfg.URL)
	}
	var gz bool
	switch strings.ToLower(cfg.ContentEncoding) {
	case "", "none":
	case "gzip":
		gz = true
	default:
		return nil, fmt.Errorf("httpendpoint: content_encoding %q: want none or gzip", cfg.ContentEncoding)
	}
	if len(cfg.AccessKey) > 4096 {
		return nil, errors.New("httpendpoint: access_key is longer than 4096 bytes")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxBodyBytes < minBodyBytes {
		return nil, fmt.Errorf("httpendpoint: max body size %d is below %d bytes", cfg.MaxBodyBytes, minBodyBytes)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Account == "" {
		cfg.Account = DefaultAccount
	}
	if cfg.Backoff == nil {
		cfg.Backoff = FirehoseBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var attrs string
	if len(cfg.CommonAttributes) > 0 {
		b, err := json.Marshal(struct {
			CommonAttributes map[string]string `json:"commonAttributes"`
		}{cfg.CommonAttributes})
		if err != nil {
			return nil, fmt.Errorf("httpendpoint: common_attributes: %w", err)
		}
		attrs = string(b)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("httpendpoint: ca file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("httpendpoint: ca file %s holds no PEM certificate", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Sink{
		cfg:       cfg,
		url:       u.String(),
		attrs:     attrs,
		gzip:      gz,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			// Firehose does not follow redirects: a 3xx is a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:     cfg.Logger,
		tracked: map[string]*tracked{},
	}, nil
}

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	s.transport.CloseIdleConnections()
	return nil
}

// Check POSTs a request with zero records, which the protocol's body
// allows and a receiver answers without storing anything: unlike a TCP
// dial or a HEAD it also proves the path, the access key and TLS are
// accepted and the receiver speaks the protocol. Only a valid 200 passes.
func (s *Sink) Check(ctx context.Context) error {
	pipeline := s.cfg.Pipeline
	if pipeline == "" {
		pipeline = "hydrant"
	}
	if err := s.post(ctx, pipeline, uuid.NewString(), nil); err != nil {
		return fmt.Errorf("httpendpoint: check %s: %w", s.url, err)
	}
	return nil
}

// Error is a failed request, with Firehose's error code
// (HttpEndpoint.DestinationException, ...RequestTimeout,
// ...InvalidResponseFromDestination, ...ResponseTooLarge,
// ...ConnectionFailed).
type Error struct {
	Code      string
	Status    int // HTTP status, 0 without an answer
	RequestID string
	Message   string
	Err       error // the cause, when a network error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	fmt.Fprintf(&b, " (request %s)", e.RequestID)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Error codes, as Firehose's CloudWatch logs name them.
const (
	CodeDestinationException = "HttpEndpoint.DestinationException"
	CodeRequestTimeout       = "HttpEndpoint.RequestTimeout"
	CodeInvalidResponse      = "HttpEndpoint.InvalidResponseFromDestination"
	CodeResponseTooLarge     = "HttpEndpoint.ResponseTooLarge"
	CodeConnectionFailed     = "HttpEndpoint.ConnectionFailed"
	CodeRecordTooLarge       = "HttpEndpoint.RecordTooLarge" // Hydrant's: a record larger than MaxBodyBytes
)

// Write delivers b; see the package documentation.
func (s *Sink) Write(ctx context.Context, b *record.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	key := b.ID().String()
	pipeline := s.cfg.Pipeline
	if pipeline == "" {
		pipeline = b.Pipeline
	}
	failed := map[int]error{}
	groups := s.plan(b, key, failed)

	// Send in order; after a retryable failure the rest waits for the
	// retry (the endpoint is likely down), a 413 fails its part alone.
	var (
		firstErr  error
		delivered bool
	)
	for gi, g := range groups {
		if firstErr != nil {
			for _, i := range g.idx {
				failed[i] = fmt.Errorf("not sent after an earlier request of the batch failed: %w", firstErr)
			}
			continue
		}
		recs := make([][]byte, len(g.idx))
		for j, i := range g.idx {
			recs[j] = b.Records[i].Data
		}
		err := s.post(ctx, pipeline, g.id, recs)
		if err == nil {
			delivered = true
			continue
		}
		s.log.Debug("http endpoint request failed", "batch", key, "part", gi, "request_id", g.id, "records", len(g.idx), "err", err)
		for _, i := range g.idx {
			failed[i] = err
		}
		if !sinks.IsPermanent(err) {
			firstErr = err
		}
	}
	if len(failed) == 0 {
		s.forget(key)
		return nil
	}
	permanent := 0
	for _, err := range failed {
		if sinks.IsPermanent(err) {
			permanent++
		}
	}
	var whole error
	switch {
	case delivered:
	case permanent == 0 && firstErr != nil:
		// Nothing delivered, one retryable error: the whole batch failed.
		whole = firstErr
	case permanent == len(b.Records) && len(groups) == 1 && len(groups[0].idx) == len(b.Records):
		whole = failed[groups[0].idx[0]] // one request, refused for good (413)
	}
	if whole == nil {
		whole = &sinks.BatchError{Failed: failed}
	}
	if firstErr == nil { // nothing to retry
		s.forget(key)
		return whole
	}
	attempts := s.remember(key, groups)
	if ctx.Err() != nil {
		return whole
	}
	wait := s.cfg.Backoff(attempts)
	var ra *sinks.RetryAfterError
	if errors.As(firstErr, &ra) && ra.After > wait {
		wait = ra.After // the endpoint's Retry-After
	}
	return &sinks.RetryAfterError{Err: whole, After: wait}
}

// group is one request of a Write: a part and the indexes of its records.
type group struct {
	part
	idx []int
}

// plan cuts b's records into requests. Records of parts remembered from
// a failed attempt go back into those parts, with their ids; the others
// are cut greedily by size. A record that cannot fit a request on its own
// goes into failed.
func (s *Sink) plan(b *record.Batch, key string, failed map[int]error) []group {
	s.mu.Lock()
	var known []part
	if t := s.tracked[key]; t != nil {
		known = t.parts
	}
	s.mu.Unlock()

	byPart := make([][]int, len(known))
	var loose []int
	for i := range b.Records {
		r := &b.Records[i]
		if recordBytes(len(r.Data)) > s.cfg.MaxBodyBytes-int64(bodyOverhead) {
			failed[i] = sinks.Permanent(record.WithErrorType(&Error{
				Code:    CodeRecordTooLarge,
				Message: fmt.Sprintf("record of %d bytes does not fit a request of at most %d bytes", len(r.Data), s.cfg.MaxBodyBytes),
			}, record.HTTPEndpointFailed))
			continue
		}
		p := r.Pos()
		k := 0
		for ; k < len(known); k++ {
			if !p.Less(known[k].first) && !known[k].last.Less(p) {
				break
			}
		}
		if k < len(known) {
			byPart[k] = append(byPart[k], i)
		} else {
			loose = append(loose, i)
		}
	}
	var groups []group
	for k, idx := range byPart {
		if len(idx) == 0 {
			continue
		}
		if size := s.bodySize(b, idx); size <= s.cfg.MaxBodyBytes {
			groups = append(groups, group{part: known[k], idx: idx})
		} else { // MaxBodyBytes shrank since: cut it anew
			groups = append(groups, s.cut(b, key, idx)...)
		}
	}
	groups = append(groups, s.cut(b, key, loose)...)
	// In stream order.
	for i := 1; i < len(groups); i++ {
		for j := i; j > 0 && groups[j].idx[0] < groups[j-1].idx[0]; j-- {
			groups[j], groups[j-1] = groups[j-1], groups[j]
		}
	}
	return groups
}

// cut splits the records at idx greedily into requests of at most
// MaxBodyBytes. A lone request is named by the batch range, several by
// their own first and last record.
func (s *Sink) cut(b *record.Batch, key string, idx []int) []group {
	var groups []group
	size := int64(bodyOverhead)
	start := 0
	for j, i := range idx {
		n := recordBytes(len(b.Records[i].Data))
		if j > start && size+n > s.cfg.MaxBodyBytes {
			groups = append(groups, group{idx: idx[start:j:j]})
			start, size = j, int64(bodyOverhead)
		}
		size += n
	}
	if start < len(idx) {
		groups = append(groups, group{idx: idx[start:]})
	}
	id := b.ID()
	for k := range groups {
		g := &groups[k]
		g.first, g.last = b.Records[g.idx[0]].Pos(), b.Records[g.idx[len(g.idx)-1]].Pos()
		if len(groups) == 1 {
			g.first, g.last = id.First, id.Last
		}
		g.id = RequestID(key, g.first, g.last)
	}
	return groups
}

// RequestID is the request id of the records first..last of the batch
// whose identity is batchID (record.BatchID.String()): a name-based UUID,
// the same on every retry.
func RequestID(batchID string, first, last record.Position) string {
	rng := strconv.FormatUint(first.Seq, 10) + "." + strconv.FormatUint(uint64(first.Sub), 10) + "-" +
		strconv.FormatUint(last.Seq, 10) + "." + strconv.FormatUint(uint64(last.Sub), 10)
	return prefix.BatchUUID("", "", "", 0, 0, "http-endpoint", batchID, rng).String()
}

// Body size accounting: {"requestId":"<36>","timestamp":<up to 20>,"records":[...]}
// and ,{"data":"<base64>"} per record.
const (
	bodyOverhead = len(`{"requestId":"","timestamp":,"records":[]}`) + 36 + 20
	minBodyBytes = int64(bodyOverhead + 1024)
)

func recordBytes(n int) int64 {
	return int64(len(`,{"data":""}`) + base64.StdEncoding.EncodedLen(n))
}

func (s *Sink) bodySize(b *record.Batch, idx []int) int64 {
	size := int64(bodyOverhead)
	for _, i := range idx {
		size += recordBytes(len(b.Records[i].Data))
	}
	return size
}

// remember records a failed attempt of batch key and the parts it was
// cut into (all of them: a retry may carry records of delivered parts
// too, after a whole-batch error), and returns the batch's failed
// attempts so far.
func (s *Sink) remember(key string, groups []group) int {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tracked[key]
	if t == nil {
		if len(s.tracked) >= maxTracked {
			s.evictLocked(now)
		}
		t = &tracked{}
		s.tracked[key] = t
	}
	t.attempts++
	t.seen = now
	for _, g := range groups {
		if !slices.ContainsFunc(t.parts, func(p part) bool { return p.id == g.id }) {
			t.parts = append(t.parts, g.part)
		}
	}
	return t.attempts
}

func (s *Sink) forget(key string) {
	s.mu.Lock()
	delete(s.tracked, key)
	s.mu.Unlock()
}

// evictLocked drops stale entries, or the oldest one when none is stale.
func (s *Sink) evictLocked(now time.Time) {
	var oldest string
	var at time.Time
	for k, t := range s.tracked {
		if now.Sub(t.seen) > trackTTL {
			delete(s.tracked, k)
			continue
		}
		if oldest == "" || t.seen.Before(at) {
			oldest, at = k, t.seen
		}
	}
	if len(s.tracked) >= maxTracked {
		delete(s.tracked, oldest)
	}
}

// body builds the request body.
func appendBody(dst []byte, id string, ts int64, recs [][]byte) []byte {
	dst = append(dst, `{"requestId":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","timestamp":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"records":[`...)
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"data":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r)
		dst = append(dst, `"}`...)
	}
	return append(dst, "]}"...)
}

// post sends one request and checks its answer.
func (s *Sink) post(ctx context.Context, pipeline, id string, recs [][]byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("httpendpoint: request %s: %w", id, err)
	}
	size := bodyOverhead
	for _, r := range recs {
		size += int(recordBytes(len(r)))
	}
	body := appendBody(make([]byte, 0, size), id, s.cfg.Now().UnixMilli(), recs)
	if s.gzip {
		var buf bytes.Buffer
		buf.Grow(len(body)/4 + 64)
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		body = buf.Bytes()
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return sinks.Permanent(record.WithErrorType(fmt.Errorf("httpendpoint: %w", err), record.HTTPEndpointFailed))
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	h.Set("X-Amz-Firehose-Request-Id", id)
	h.Set("X-Amz-Firehose-Source-Arn", "arn:aws:firehose:"+s.cfg.Region+":"+s.cfg.Account+":deliverystream/"+pipeline)
	if s.cfg.AccessKey != "" {
		h.Set("X-Amz-Firehose-Access-Key", s.cfg.AccessKey)
	}
	if s.attrs != "" {
		h.Set("X-Amz-Firehose-Common-Attributes", s.attrs)
	}
	if s.gzip {
		h.Set("Content-Encoding", "gzip")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return s.netError(ctx, rctx, id, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return s.netError(ctx, rctx, id, err)
	}
	if len(answer) > MaxResponseBytes {
		return mark(&Error{Code: CodeResponseTooLarge, Status: resp.StatusCode, RequestID: id,
			Message: fmt.Sprintf("answer over %d bytes", MaxResponseBytes)})
	}
	err = CheckResponse(resp.StatusCode, resp.Header.Get("Content-Type"), answer, id)
	if err == nil {
		return nil
	}
	if after := retryAfter(resp.Header.Get("Retry-After"), s.cfg.Now()); after > 0 && !sinks.IsPermanent(err) {
		return &sinks.RetryAfterError{Err: err, After: after}
	}
	return err
}

// netError classifies a failure to get an answer: the caller's
// cancellation as it is, a timeout, or a connection failure; all
// retryable.
func (s *Sink) netError(ctx, rctx context.Context, id string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("httpendpoint: request %s: %w", id, ctx.Err())
	}
	code := CodeConnectionFailed
	var ne net.Error
	if rctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		code = CodeRequestTimeout
	}
	return mark(&Error{Code: code, RequestID: id, Err: err})
}

// mark names the error output type; permanence is the caller's.
func mark(e *Error) error { return record.WithErrorType(e, record.HTTPEndpointFailed) }

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(min(n, 3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(t.Sub(now), time.Hour)
	}
	return 0
}

// response is the receiver's answer body.
type response struct {
	RequestID    *string          `json:"requestId"`
	Timestamp    *json.RawMessage `json:"timestamp"`
	ErrorMessage *string          `json:"errorMessage"`
}

// CheckResponse judges a receiver's answer to the request with id
// requestID: nil only for status 200 with a JSON body (Content-Type
// application/json) whose requestId is requestID and whose timestamp is a
// number. A 413 is permanent; anything else is retryable. Every error is
// an *Error marked with record.HTTPEndpointFailed.
func CheckResponse(status int, contentType string, body []byte, requestID string) error {
	fail := func(code, format string, args ...any) error {
		e := &Error{Code: code, Status: status, RequestID: requestID, Message: fmt.Sprintf(format, args...)}
		if status == http.StatusRequestEntityTooLarge {
			return sinks.Permanent(mark(e))
		}
		return mark(e)
	}
	var r response
	perr := parseResponse(body, &r)
	if status != http.StatusOK {
		msg := truncate(string(body), 512)
		if perr == nil && r.ErrorMessage != nil {
			msg = truncate(*r.ErrorMessage, 512)
		}
		return fail(CodeDestinationException, "%s", msg)
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return fail(CodeInvalidResponse, "Content-Type %q, want application/json", contentType)
	}
	if perr != nil {
		return fail(CodeInvalidResponse, "%v", perr)
	}
	switch {
	case r.RequestID == nil:
		return fail(CodeInvalidResponse, "no requestId")
	case *r.RequestID != requestID:
		return fail(CodeInvalidResponse, "requestId %q does not match", truncate(*r.RequestID, 64))
	case r.Timestamp == nil:
		return fail(CodeInvalidResponse, "no timestamp")
	}
	if ts := bytes.TrimSpace(*r.Timestamp); len(ts) == 0 || (ts[0] != '-' && (ts[0] < '0' || ts[0] > '9')) {
		return fail(CodeInvalidResponse, "timestamp %s is not a number", truncate(string(ts), 64))
	}
	return nil
}

// parseResponse decodes a single JSON object into r.
func parseResponse(body []byte, r *response) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(r); err != nil {
		return fmt.Errorf("malformed answer: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("malformed answer: data after the JSON object")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
