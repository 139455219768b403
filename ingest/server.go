package ingest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Streams is what the ingest server needs from the stream core. The lead
// implementation lives in cmd over package streams; tests use a fake.
type Streams interface {
	// Append stores recs durably in the named stream, or fails as a whole.
	// On success every recs[i] has ID, Shard and Seq set. Key may be empty
	// (Firehose records carry no key): the stream then picks a shard itself.
	//
	// Ownership: recs and every recs[i].Data alias pooled request buffers
	// that are reused once Append returns, so Append must copy whatever it
	// keeps (as io.Writer must not retain p).
	//
	// Errors: record.ErrStreamNotFound, record.ErrBackpressure (wrapped);
	// anything else is an internal failure.
	Append(ctx context.Context, stream string, recs []record.Record) error
	// List returns the pipeline (stream) names, in any order.
	List() []string
	// Describe returns a stream's description, or record.ErrStreamNotFound.
	Describe(stream string) (StreamInfo, error)
}

// StreamInfo describes a stream for DescribeDeliveryStream.
type StreamInfo struct {
	Name string
	// VersionID is a decimal string starting at "1" (Firehose's VersionId).
	VersionID    string
	Created      time.Time
	Destinations []DestinationInfo
}

// DestinationInfo describes one destination of a stream, enough to fill
// Firehose's destination descriptions.
type DestinationInfo struct {
	Name string // destination name from the pipeline file
	Type string // s3, directory, postgres, redshift, opensearch, http, iceberg
	// Bucket is the object-store bucket (s3); others get a synthetic one.
	Bucket      string
	Prefix      string
	ErrorPrefix string
	URL         string // http destinations
	// BufferBytes and BufferInterval are the buffering hints (0 = Firehose
	// defaults 5 MiB / 300 s).
	BufferBytes    int64
	BufferInterval time.Duration
	// Compression: "", "none", "gzip", "snappy", "zip", "hadoop_snappy", ...
	Compression string
}

// Limits bound what one request may carry. Zero values mean the defaults.
type Limits struct {
	// MaxRequestBytes caps the HTTP body (for the batch and receiver doors
	// also the body after gzip decompression). Default 5 MiB. The Firehose door never
	// uses less than a legal 500-record, MaxBatchDataBytes batch needs once
	// base64-encoded, so a small value cannot break conformant clients.
	MaxRequestBytes int64
	// MaxRecordBytes caps one record's (decoded) data. Default 1,024,000.
	MaxRecordBytes int64
	// MaxRecordsPerRequest caps the records of one Firehose PutRecordBatch.
	// Default 500. The batch door is bounded by MaxRequestBytes only.
	MaxRecordsPerRequest int64
	// MaxBatchDataBytes caps the decoded data of one PutRecordBatch.
	// Default 4 MiB, as Firehose.
	MaxBatchDataBytes int64
	// MaxInflightBytes caps the request body bytes (received, and
	// inflated from gzip) all requests hold at once; past it a request
	// answers 503 ServiceUnavailableException with Retry-After. Default
	// 256 MiB. Keep it at least twice the largest body a door takes (the
	// config enforces that), or a legal request can never fit.
	MaxInflightBytes int64
}

// Default limits.
const (
	DefaultMaxRequestBytes      = 5 << 20
	DefaultMaxRecordBytes       = 1_024_000
	DefaultMaxRecordsPerRequest = 500
	DefaultMaxInflightBytes     = 256 << 20
	DefaultMaxBatchDataBytes    = 4 << 20
)

// Options configure a Server.
type Options struct {
	// Streams is the stream core (required).
	Streams Streams
	Limits  Limits
	// APIKeys, when non-empty, are required on the plain door
	// ("Authorization: Bearer KEY" or "X-Api-Key: KEY").
	APIKeys []string
	// AWSCredentials (access key id → secret), when non-empty, make the
	// Firehose door verify SigV4 signatures.
	AWSCredentials map[string]string
	// Region is used in ARNs. Default "us-east-1".
	Region string
	// Ready reports readiness for /readyz: an error answers 503 with it;
	// detail (one line per component, e.g. each destination) follows
	// either answer. Nil means always ready. Each detail line reads
	// "component: state[ (note)][: reason]"; with authentication on, a
	// caller without a credential sees only "component: state".
	Ready func(ctx context.Context) (detail string, err error)
	// Logger receives request failures; default discards.
	Logger *slog.Logger
	// Now is the clock (arrival times, SigV4 skew). Default time.Now.
	Now func() time.Time
}

// Server serves the Firehose API, the plain batch door and health endpoints.
type Server struct {
	streams       Streams
	lim           Limits
	firehoseLimit int64 // effective body limit of the Firehose door
	apiKeys       [][]byte
	awsCreds      map[string]string
	region        string
	ready         func(ctx context.Context) (string, error)
	log           *slog.Logger
	now           func() time.Time
	pool          sync.Pool // *reqState
	// inflight counts the body bytes requests hold now (MaxInflightBytes).
	inflight atomic.Int64
}

// reqState holds one request's reusable buffers.
type reqState struct {
	body []byte
	raw  []byte // compressed body (plain door, gzip)
	dec  putDecoder
	out  []byte
	gz   *gzip.Reader
	errs []api.LineError
	// held is what this request counts in Server.inflight.
	held int64
}

// state takes a request's buffers; release gives them back, and the body
// bytes they held back to the in-flight budget.
func (s *Server) state() *reqState { return s.pool.Get().(*reqState) }

func (s *Server) release(st *reqState) {
	s.inflight.Add(-st.held)
	st.held = 0
	s.pool.Put(st)
}

// errBusy: the in-flight body budget is spent.
var errBusy = errors.New("too many request bytes in flight")

// metered counts what is read from r against the in-flight budget.
type metered struct {
	s  *Server
	st *reqState
	r  io.Reader
}

func (m metered) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		if m.s.inflight.Add(int64(n)) > m.s.lim.MaxInflightBytes {
			m.s.inflight.Add(-int64(n))
			return n, errBusy
		}
		m.st.held += int64(n)
	}
	return n, err
}

// busy answers a request that found the in-flight budget spent.
func busy() *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: api.ErrServiceUnavailable,
		msg: "Slow down: the server holds its limit of request bytes in flight (server.limits.max_inflight_bytes).", retryAfter: true}
}

// New validates opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Streams == nil {
		return nil, errors.New("ingest: Options.Streams is required")
	}
	l := opts.Limits
	for _, v := range []int64{l.MaxRequestBytes, l.MaxRecordBytes, l.MaxRecordsPerRequest, l.MaxBatchDataBytes, l.MaxInflightBytes} {
		if v < 0 {
			return nil, fmt.Errorf("ingest: negative limit %d", v)
		}
	}
	l.MaxRequestBytes = orDefault(l.MaxRequestBytes, DefaultMaxRequestBytes)
	l.MaxRecordBytes = orDefault(l.MaxRecordBytes, DefaultMaxRecordBytes)
	l.MaxRecordsPerRequest = orDefault(l.MaxRecordsPerRequest, DefaultMaxRecordsPerRequest)
	l.MaxBatchDataBytes = orDefault(l.MaxBatchDataBytes, DefaultMaxBatchDataBytes)
	l.MaxInflightBytes = orDefault(l.MaxInflightBytes, DefaultMaxInflightBytes)
	for id, secret := range opts.AWSCredentials {
		if id == "" || secret == "" {
			return nil, errors.New("ingest: AWS credentials need an access key id and a secret")
		}
	}
	s := &Server{
		streams:  opts.Streams,
		lim:      l,
		awsCreds: opts.AWSCredentials,
		region:   opts.Region,
		ready:    opts.Ready,
		log:      opts.Logger,
		now:      opts.Now,
	}
	// base64 of the data plus ~40 bytes of JSON per record and the envelope.
	s.firehoseLimit = max(l.MaxRequestBytes, (l.MaxBatchDataBytes+2)/3*4+64*l.MaxRecordsPerRequest+4096)
	for _, k := range opts.APIKeys {
		if k == "" {
			return nil, errors.New("ingest: empty API key")
		}
		s.apiKeys = append(s.apiKeys, []byte(k))
	}
	if s.region == "" {
		s.region = api.DefaultRegion
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.pool.New = func() any { return new(reqState) }
	return s, nil
}

func orDefault(v, d int64) int64 {
	if v == 0 {
		return d
	}
	return v
}

// Handler returns the HTTP handler: POST / (Firehose API, by X-Amz-Target),
// PUT|POST /v1/streams/{stream}/records, GET /healthz, GET /readyz. Any
// other path answers 404 in the common JSON error shape.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	requestID(w)
	path := r.URL.Path
	switch {
	case path == "/":
		if r.Method != http.MethodPost {
			s.writeError(w, r, api.ContentType, methodNotAllowed("POST"))
			return
		}
		s.serveFirehose(w, r)
	case path == "/healthz":
		writeText(w, http.StatusOK, "ok\n")
	case path == "/readyz":
		s.serveReady(w, r)
	case strings.HasPrefix(path, "/v1/streams/") && strings.HasSuffix(path, "/records"):
		stream := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/streams/"), "/records")
		if stream == "" || strings.Contains(stream, "/") {
			s.writeError(w, r, "application/json", notFound(path))
			return
		}
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			s.writeError(w, r, "application/json", methodNotAllowed("PUT, POST"))
			return
		}
		s.servePlain(w, r, stream)
	case strings.HasPrefix(path, "/v1/firehose-endpoint/"):
		stream := strings.TrimPrefix(path, "/v1/firehose-endpoint/")
		if stream == "" || strings.Contains(stream, "/") {
			s.writeError(w, r, "application/json", notFound(path))
			return
		}
		if r.Method != http.MethodPost {
			s.writeError(w, r, "application/json", methodNotAllowed("POST"))
			return
		}
		s.serveReceiver(w, r, stream)
	default:
		s.writeError(w, r, "application/json", notFound(path))
	}
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	var detail string
	if s.ready != nil {
		var err error
		detail, err = s.ready(r.Context())
		if !s.readAuthorized(r) {
			detail = redactDetail(detail)
		}
		if err != nil {
			msg := "not ready: " + err.Error()
			if detail != "" {
				msg += "\n" + detail
			}
			s.writeError(w, r, "application/json", &apiError{status: http.StatusServiceUnavailable,
				code: api.ErrServiceUnavailable, msg: msg})
			return
		}
	}
	writeText(w, http.StatusOK, "ok\n"+detail)
}

// redactDetail keeps each line's component and state and drops the note
// and the reason: a destination's error text may quote record data.
func redactDetail(detail string) string {
	var b strings.Builder
	for line := range strings.Lines(detail) {
		name, state, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		if !ok {
			continue // not "component: state": nothing safe to show
		}
		if i := strings.IndexAny(state, "(:"); i >= 0 {
			state = strings.TrimSpace(state[:i])
		}
		b.WriteString(name + ": " + state + "\n")
	}
	return b.String()
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// apiError is an error answer: HTTP status, error code and message.
type apiError struct {
	status     int
	code       string
	msg        string
	lines      []api.LineError
	retryAfter bool
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func invalidArg(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: api.ErrInvalidArgument, msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: api.ErrRequestEntityTooLarge, msg: fmt.Sprintf(format, args...)}
}

func methodNotAllowed(allow string) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, code: api.ErrMethodNotAllowed, msg: "method not allowed; use " + allow}
}

func notFound(path string) *apiError {
	return &apiError{status: http.StatusNotFound, code: api.ErrNotFound, msg: "no route for " + path}
}

// appendError maps an Append failure to an answer.
func (s *Server) appendError(r *http.Request, stream string, err error, notFoundStatus int) *apiError {
	switch {
	case errors.Is(err, record.ErrStreamNotFound):
		return streamNotFound(stream, notFoundStatus)
	case errors.Is(err, record.ErrBackpressure):
		return &apiError{status: http.StatusServiceUnavailable, code: api.ErrServiceUnavailable,
			msg: "Slow down.", retryAfter: true}
	default:
		s.log.ErrorContext(r.Context(), "append failed", "stream", stream, "err", err)
		return &apiError{status: http.StatusInternalServerError, code: api.ErrInternalFailure,
			msg: "We encountered an internal error. Please try again."}
	}
}

func streamNotFound(stream string, status int) *apiError {
	return &apiError{status: status, code: api.ErrResourceNotFound,
		msg: fmt.Sprintf("Firehose %s under account %s not found.", stream, api.AccountID)}
}

// writeError writes e in the common {"__type","message"} shape, with the
// code also in X-Amzn-ErrorType, as AWS JSON services do.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, contentType string, e *apiError) {
	id := requestID(w)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Errortype", e.code)
	if e.retryAfter {
		h.Set("Retry-After", "1")
	}
	body, err := json.Marshal(api.ErrorResponse{Type: e.code, Message: e.msg, Errors: e.lines})
	if err != nil { // cannot happen: plain strings and ints
		body = []byte(`{"__type":"InternalFailure","message":"error encoding failed"}`)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
	s.logRefusal(r, id, e.status, e.code, e.msg)
}

// logRefusal logs a refused request with the id the client got, so an
// operator can find the line a user quotes; 4xx only at debug, since any
// caller can cause them at will.
func (s *Server) logRefusal(r *http.Request, id string, status int, code, msg string, attrs ...any) {
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "request refused", append([]any{"request_id", id, "method", r.Method,
		"path", r.URL.Path, "status", status, "code", code, "message", msg}, attrs...)...)
}

// requestID returns the response's X-Amzn-Requestid, set once per request
// (by the first handler that answers or refuses it).
func requestID(w http.ResponseWriter) string {
	h := w.Header()
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	id := uuid.NewString()
	h.Set("X-Amzn-Requestid", id)
	return id
}

func writeBody(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

var errBodyTooLarge = errors.New("request body too large")

// firstReadBytes caps the buffer allocated before any data arrives: the
// buffer then grows with the data received, never with what Content-Length
// claims (a client can announce the limit and send a few bytes).
const firstReadBytes = 64 << 10

// readBody reads at most limit bytes of r into buf[:0], growing it as needed.
// Bodies announcing or having more than limit bytes fail with errBodyTooLarge
// without being buffered.
func readBody(r io.Reader, buf []byte, contentLength, limit int64) ([]byte, error) {
	if contentLength > limit {
		return buf[:0], errBodyTooLarge
	}
	want := int(min(max(contentLength, 512), limit, firstReadBytes)) + 1
	if cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errBodyTooLarge
			}
			n := min(int64(cap(buf))*2, limit+1)
			nb := make([]byte, len(buf), max(n, int64(cap(buf)+1)))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// appendJSONString appends s as a JSON string (minimal escaping).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, `\u00`...)
			dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
