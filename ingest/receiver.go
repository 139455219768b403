package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hydrant-io/hydrant/ingest/api"
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
	defer st.dec.release()
	bodyID, recs, e := s.decodeReceiver(&st.dec, body, now)
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
		// Firehose sends a retried request with the same id: a backend that
		// can (JetStream) stores it once.
		if err := s.streams.Append(record.WithDedupID(r.Context(), reqID), stream, recs); err != nil {
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
// "records": [{"data": base64}...]} with the Firehose door's scanner: each
// record's base64 is decoded straight into the request's arena (the
// records alias it until the request ends). An empty record, or one over
// a limit, is refused as soon as it is read, before the rest of a hostile
// body is turned into records. Member names match case-insensitively, as
// encoding/json does; unknown members are skipped.
func (s *Server) decodeReceiver(d *putDecoder, body []byte, now time.Time) (reqID string, recs []record.Record, e *apiError) {
	d.reset(len(body))
	recs = d.recs
	var idx int
	path := func() string { return fmt.Sprintf("records[%d].data", idx) }
	err := decodeTop(body, func(key []byte, i int) (int, error) {
		switch {
		case keyIs(key, "requestId"):
			return decodeString(body, i, &reqID, "requestId", "malformed requestId")
		case keyIs(key, "records"):
			if i < len(body) && body[i] == 'n' {
				end, err := scanLiteral(body, i, "null")
				if err != nil {
					return 0, syntaxErr(err)
				}
				return end, nil
			}
			if i >= len(body) || body[i] != '[' {
				return 0, decodeError("records must be an array")
			}
			i = skipWS(body, i+1)
			if i < len(body) && body[i] == ']' {
				return i + 1, nil
			}
			for idx = 0; ; idx++ {
				if idx == maxReceiverRecords {
					return 0, tooLarge("more than %d records in one request", maxReceiverRecords)
				}
				if i >= len(body) || body[i] != '{' {
					return 0, typeErr(body, i, fmt.Sprintf("records[%d]", idx))
				}
				var r record.Record
				var err error
				if i, err = d.decodeRecordObject(body, i, 3, &r, path); err != nil {
					return 0, err
				}
				if len(r.Data) == 0 { // as Firehose, which refuses empty Data
					return 0, invalidArg("record %d has no data", idx)
				}
				if int64(len(r.Data)) > s.lim.MaxRecordBytes {
					return 0, tooLarge("record %d is %d bytes, over the %d-byte limit", idx, len(r.Data), s.lim.MaxRecordBytes)
				}
				r.Arrived = now
				recs = append(recs, r)
				i = skipWS(body, i)
				if i < len(body) && body[i] == ',' {
					i = skipWS(body, i+1)
					continue
				}
				if i < len(body) && body[i] == ']' {
					return i + 1, nil
				}
				return 0, syntaxErr(unexpected(body, i, "after array element"))
			}
		default: // timestamp and unknown members
			end, err := skipValue(body, i, 1)
			if err != nil {
				return 0, syntaxErr(err)
			}
			return end, nil
		}
	})
	if cap(recs) > cap(d.recs) {
		d.recs = recs[:0] // keep the grown slice for reuse
	}
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.code != api.ErrSerialization {
			return "", nil, ae // a limit or an empty record
		}
		msg := err.Error()
		if ae != nil {
			msg = strings.TrimPrefix(ae.msg, "Malformed request body: ")
		}
		return "", nil, invalidArg("malformed body: %s", msg)
	}
	return reqID, recs, nil
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
