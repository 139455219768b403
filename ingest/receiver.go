package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

// maxReceiverBytes bounds a Firehose HTTP-endpoint delivery: Firehose sends
// up to its 64 MiB buffer (uncompressed) in one request.
const maxReceiverBytes = 64 << 20

// receiverRequest is the body Firehose (or Hydrant's http sink) POSTs to an
// HTTP endpoint.
type receiverRequest struct {
	RequestID string `json:"requestId"`
	Timestamp int64  `json:"timestamp"`
	Records   []struct {
		Data []byte `json:"data"` // base64 in JSON
	} `json:"records"`
}

// serveReceiver is POST /v1/firehose-endpoint/{stream}: the receiving end of
// Firehose's HTTP-endpoint delivery protocol, so AWS Firehose, or another
// Hydrant, can deliver into this one. It answers only after the records are
// durable, with the shape the protocol requires: 200 and
// {"requestId","timestamp"}, or an error status with "errorMessage". Firehose
// retries every failure except 413, which it treats as permanent.
func (s *Server) serveReceiver(w http.ResponseWriter, r *http.Request, stream string) {
	reqID := r.Header.Get("X-Amz-Firehose-Request-Id")
	fail := func(status int, format string, args ...any) {
		writeReceiver(w, status, reqID, s.now(), fmt.Sprintf(format, args...))
	}
	if e := s.matchAPIKey(r.Header.Get("X-Amz-Firehose-Access-Key"), "send it in X-Amz-Firehose-Access-Key"); e != nil {
		fail(e.status, "%s", e.msg)
		return
	}
	if v := r.Header.Get("X-Amz-Firehose-Protocol-Version"); v != "" && v != "1.0" {
		fail(http.StatusBadRequest, "unsupported X-Amz-Firehose-Protocol-Version %q, want 1.0", v)
		return
	}
	st := s.pool.Get().(*reqState)
	defer s.pool.Put(st)
	body, e := s.readBodyMaybeGzip(r, st, max(s.lim.MaxRequestBytes, maxReceiverBytes))
	if e != nil {
		fail(e.status, "%s", e.msg)
		return
	}
	var req receiverRequest
	if err := json.Unmarshal(body, &req); err != nil {
		fail(http.StatusBadRequest, "malformed body: %v", err)
		return
	}
	if reqID == "" {
		reqID = req.RequestID
	}
	if reqID == "" {
		fail(http.StatusBadRequest, "missing requestId")
		return
	}
	recs := make([]record.Record, len(req.Records))
	now := s.now()
	for i, rec := range req.Records {
		if int64(len(rec.Data)) > s.lim.MaxRecordBytes {
			fail(http.StatusRequestEntityTooLarge, "record %d is %d bytes, over the %d-byte limit", i, len(rec.Data), s.lim.MaxRecordBytes)
			return
		}
		recs[i] = record.Record{Data: rec.Data, Arrived: now}
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
	writeReceiver(w, http.StatusOK, reqID, now, "")
}

// writeReceiver writes the HTTP-endpoint protocol's response body.
func writeReceiver(w http.ResponseWriter, status int, reqID string, now time.Time, errMsg string) {
	id, _ := json.Marshal(reqID)
	body := `{"requestId":` + string(id) + `,"timestamp":` + strconv.FormatInt(now.UnixMilli(), 10)
	if errMsg != "" {
		msg, _ := json.Marshal(errMsg)
		body += `,"errorMessage":` + string(msg)
	}
	body += "}"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
