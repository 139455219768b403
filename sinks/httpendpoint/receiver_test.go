package httpendpoint_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// receiver is a Firehose HTTP-endpoint receiver written from the protocol
// text alone (shares no code with the sink): it checks the request's
// headers and body, stores the records of every request id it has not seen
// (a retry of a request id is answered 200 and dropped, as the protocol
// expects receivers to dedupe on it) and answers {"requestId","timestamp"}.
type receiver struct {
	// AccessKey, when set, must be the request's X-Amz-Firehose-Access-Key.
	AccessKey string
	// MaxBody refuses larger (inflated) bodies with 413; 0 means no limit.
	MaxBody int64
	// Fault, when set, may answer a request itself (before anything is
	// stored): it returns the status and body to send, or 0 to go on.
	// n counts requests from 1.
	Fault func(c *captured, n int) (status int, body string)

	mu       sync.Mutex
	n        int
	seen     map[string]bool
	stored   []storedRecord
	requests []*captured
}

type storedRecord struct {
	Data      []byte
	RequestID string
}

// captured is one request as received.
type captured struct {
	Header http.Header
	Raw    []byte // the body as sent
	Body   []byte // inflated
	Req    struct {
		RequestID *string           `json:"requestId"`
		Timestamp *json.Number      `json:"timestamp"`
		Records   *[]map[string]any `json:"records"`
	}
	Data [][]byte // the records' decoded data
}

func newReceiver() *receiver { return &receiver{seen: map[string]bool{}} }

func (rc *receiver) answer(w http.ResponseWriter, status int, id, errMsg string) {
	body := map[string]any{"requestId": id, "timestamp": time.Now().UnixMilli()}
	if errMsg != "" {
		body["errorMessage"] = errMsg
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Amz-Firehose-Request-Id")
	bad := func(status int, format string, args ...any) { rc.answer(w, status, id, fmt.Sprintf(format, args...)) }
	if r.Method != http.MethodPost {
		bad(http.StatusMethodNotAllowed, "POST only")
		return
	}
	if v := r.Header.Get("X-Amz-Firehose-Protocol-Version"); v != "1.0" {
		bad(http.StatusBadRequest, "protocol version %q", v)
		return
	}
	if id == "" {
		bad(http.StatusBadRequest, "no request id")
		return
	}
	if arn := r.Header.Get("X-Amz-Firehose-Source-Arn"); !strings.HasPrefix(arn, "arn:aws:firehose:") || !strings.Contains(arn, ":deliverystream/") {
		bad(http.StatusBadRequest, "source arn %q", arn)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		bad(http.StatusBadRequest, "content type %q", r.Header.Get("Content-Type"))
		return
	}
	if rc.AccessKey != "" && r.Header.Get("X-Amz-Firehose-Access-Key") != rc.AccessKey {
		bad(http.StatusUnauthorized, "access key")
		return
	}
	if a := r.Header.Get("X-Amz-Firehose-Common-Attributes"); a != "" {
		var v struct {
			CommonAttributes map[string]string `json:"commonAttributes"`
		}
		if err := json.Unmarshal([]byte(a), &v); err != nil || v.CommonAttributes == nil {
			bad(http.StatusBadRequest, "common attributes %q", a)
			return
		}
	}
	c := &captured{Header: r.Header.Clone()}
	var err error
	if c.Raw, err = io.ReadAll(r.Body); err != nil {
		bad(http.StatusBadRequest, "read: %v", err)
		return
	}
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "":
		c.Body = c.Raw
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(c.Raw))
		if err == nil {
			c.Body, err = io.ReadAll(zr)
		}
		if err != nil {
			bad(http.StatusBadRequest, "gzip: %v", err)
			return
		}
	default:
		bad(http.StatusBadRequest, "content encoding %q", enc)
		return
	}
	if rc.MaxBody > 0 && int64(len(c.Body)) > rc.MaxBody {
		bad(http.StatusRequestEntityTooLarge, "body of %d bytes over %d", len(c.Body), rc.MaxBody)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body))
	dec.UseNumber()
	if err := dec.Decode(&c.Req); err != nil {
		bad(http.StatusBadRequest, "body: %v", err)
		return
	}
	switch {
	case c.Req.RequestID == nil || *c.Req.RequestID != id:
		bad(http.StatusBadRequest, "body requestId differs from the header's")
		return
	case c.Req.Timestamp == nil:
		bad(http.StatusBadRequest, "no timestamp")
		return
	case c.Req.Records == nil:
		bad(http.StatusBadRequest, "no records")
		return
	}
	if _, err := c.Req.Timestamp.Int64(); err != nil {
		bad(http.StatusBadRequest, "timestamp: %v", err)
		return
	}
	for i, rec := range *c.Req.Records {
		s, ok := rec["data"].(string)
		if !ok || len(rec) != 1 {
			bad(http.StatusBadRequest, "record %d: want {\"data\": base64}", i)
			return
		}
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			bad(http.StatusBadRequest, "record %d: %v", i, err)
			return
		}
		c.Data = append(c.Data, d)
	}

	rc.mu.Lock()
	rc.n++
	n := rc.n
	rc.requests = append(rc.requests, c)
	fault := rc.Fault
	rc.mu.Unlock()
	if fault != nil {
		if status, body := fault(c, n); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return
		}
	}
	rc.mu.Lock()
	if !rc.seen[id] {
		rc.seen[id] = true
		for _, d := range c.Data {
			rc.stored = append(rc.stored, storedRecord{Data: d, RequestID: id})
		}
	}
	rc.mu.Unlock()
	rc.answer(w, http.StatusOK, id, "")
}

func (rc *receiver) Stored() []storedRecord {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]storedRecord(nil), rc.stored...)
}

func (rc *receiver) Requests() []*captured {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*captured(nil), rc.requests...)
}
