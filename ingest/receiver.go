package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

// minReceiverBytes is the receiver door's body limit when max_request_bytes
// is smaller: Firehose's default 5 MiB HTTP-endpoint buffer arrives
// base64-encoded (about 6.7 MiB), and Firehose treats a 413 as permanent.
const minReceiverBytes = 8 << 20

// maxReceiverRecords bounds the records of one HTTP-endpoint delivery.
// Firehose's requests are bounded by its buffer size, not a count; this
// cap, with empty records refused, keeps the per-record overhead (far
// larger than a small record) a bounded multiple of max_request_bytes.
const maxReceiverRecords = 100_000

// serveReceiver is POST /v1/firehose-endpoint/{stream}: the receiving end of
// Firehose's HTTP-endpoint delivery protocol, so AWS Firehose, or another
// Hydrant, can deliver into this one. It answers only after the records are
// durable, with the shape the protocol requires: 200 and
// {"requestId","timestamp"}, or an error status with "errorMessage". Firehose
// retries every failure except 413, which it treats as permanent.
func (s *Server) serveReceiver(w http.ResponseWriter, r *http.Request, stream string) {
	reqID := r.Header.Get("X-Amz-Firehose-Request-Id")
	fail := func(status int, format string, args ...any) {
		s.writeReceiver(w, r, status, reqID, s.now(), fmt.Sprintf(format, args...))
	}
	if e := s.checkReceiverKey(r); e != nil {
		s.writeReceiverError(w, r, reqID, s.now(), e)
		return
	}
	if v := r.Header.Get("X-Amz-Firehose-Protocol-Version"); v != "" && v != "1.0" {
		fail(http.StatusBadRequest, "unsupported X-Amz-Firehose-Protocol-Version %q, want 1.0", v)
		return
	}
	st := s.state()
	defer s.release(st)
	// Compressed and inflated bytes are both bounded (inflated bytes are
	// counted as they are read): a small gzip body cannot make the server
	// hold more.
	body, e := s.readBodyMaybeGzip(r, st, s.receiverLimit(), nil)
	if e != nil {
		s.writeReceiverError(w, r, reqID, s.now(), e)
		return
	}
	now := s.now()
	bodyID, recs, e := s.decodeReceiver(body, now)
	if e != nil {
		s.writeReceiverError(w, r, reqID, now, e)
		return
	}
	if reqID == "" {
		reqID = bodyID
	}
	if reqID == "" {
		fail(http.StatusBadRequest, "missing requestId")
		return
	}
	if len(recs) > 0 {
		if err := s.streams.Append(r.Context(), stream, recs); err != nil {
			switch {
			case errors.Is(err, record.ErrStreamNotFound):
				fail(http.StatusNotFound, "stream %s not found", stream)
			case errors.Is(err, record.ErrBackpressure):
				w.Header().Set("Retry-After", "1")
				fail(http.StatusServiceUnavailable, "slow down: %v", err)
			default:
				s.log.Error("receiver append", "stream", stream, "err", err)
				fail(http.StatusInternalServerError, "internal error")
			}
			return
		}
	}
	s.writeReceiver(w, r, http.StatusOK, reqID, now, "")
}

// receiverLimit is the receiver door's body limit, compressed and inflated.
func (s *Server) receiverLimit() int64 { return max(s.lim.MaxRequestBytes, minReceiverBytes) }

// decodeReceiver reads the protocol's body {"requestId", "timestamp",
// "records": [{"data": base64}...]} record by record, so an empty record or
// one over a limit is refused as soon as it is read, before the rest of a
// hostile body is turned into records. Member names match case-insensitively,
// as encoding/json does; unknown members are skipped.
func (s *Server) decodeReceiver(body []byte, now time.Time) (reqID string, recs []record.Record, e *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	malformed := func(err error) *apiError { return invalidArg("malformed body: %v", err) }
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", nil, invalidArg("malformed body: want a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, malformed(err)
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "requestId"):
			err = dec.Decode(&reqID)
		case strings.EqualFold(key, "records"):
			recs, e = s.decodeReceiverRecords(dec, now)
			if e != nil {
				return "", nil, e
			}
		default: // timestamp and unknown members
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return "", nil, malformed(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return "", nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, invalidArg("malformed body: data after the JSON object")
	}
	return reqID, recs, nil
}

// decodeReceiverRecords reads the records array (or null).
func (s *Server) decodeReceiverRecords(dec *json.Decoder, now time.Time) ([]record.Record, *apiError) {
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidArg("malformed body: %v", err)
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('[') {
		return nil, invalidArg("malformed body: records must be an array")
	}
	var recs []record.Record
	for i := 0; dec.More(); i++ {
		if i == maxReceiverRecords {
			return nil, tooLarge("more than %d records in one request", maxReceiverRecords)
		}
		var rec struct {
			Data []byte `json:"data"` // base64 in JSON
		}
		if err := dec.Decode(&rec); err != nil {
			return nil, invalidArg("malformed body: record %d: %v", i, err)
		}
		if len(rec.Data) == 0 { // as Firehose, which refuses empty Data
			return nil, invalidArg("record %d has no data", i)
		}
		if int64(len(rec.Data)) > s.lim.MaxRecordBytes {
			return nil, tooLarge("record %d is %d bytes, over the %d-byte limit", i, len(rec.Data), s.lim.MaxRecordBytes)
		}
		recs = append(recs, record.Record{Data: rec.Data, Arrived: now})
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, invalidArg("malformed body: %v", err)
	}
	return recs, nil
}

// writeReceiver writes the HTTP-endpoint protocol's response body.
func (s *Server) writeReceiver(w http.ResponseWriter, r *http.Request, status int, reqID string, now time.Time, errMsg string) {
	s.writeReceiverBody(w, r, status, reqID, now, errMsg, "")
}

// writeReceiverError answers e in the protocol's shape (errorMessage, which
// Firehose reads) plus the common {"__type","message"} members.
func (s *Server) writeReceiverError(w http.ResponseWriter, r *http.Request, reqID string, now time.Time, e *apiError) {
	w.Header().Set("X-Amzn-Errortype", e.code)
	s.writeReceiverBody(w, r, e.status, reqID, now, e.msg, e.code)
}

func (s *Server) writeReceiverBody(w http.ResponseWriter, r *http.Request, status int, reqID string, now time.Time, errMsg, code string) {
	id, _ := json.Marshal(reqID)
	body := `{"requestId":` + string(id) + `,"timestamp":` + strconv.FormatInt(now.UnixMilli(), 10)
	if errMsg != "" {
		msg, _ := json.Marshal(errMsg)
		body += `,"errorMessage":` + string(msg)
		if code != "" {
			typ, _ := json.Marshal(code)
			body += `,"__type":` + string(typ) + `,"message":` + string(msg)
		}
	}
	body += "}"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	if status != http.StatusOK {
		s.logRefusal(r, requestID(w), status, code, errMsg, "firehose_request_id", reqID)
	}
}
