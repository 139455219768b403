package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

// The plain batch door: PUT|POST /v1/streams/{stream}/records.
//
// Choices:
//   - The body (and, with Content-Encoding: gzip, the compressed and the
//     decompressed body) is capped at MaxRequestBytes and each record at
//     MaxRecordBytes; the record count is not capped (MaxRecordsPerRequest is
//     PutRecordBatch's). Any limit breach answers 413 for the whole request,
//     even with ?partial=true (limits are about the request, not a record's
//     content). Raise the limits for larger plain batches.
//   - Content-Type must be NDJSON (application/x-ndjson, application/ndjson,
//     application/jsonl, application/jsonlines, ...) or application/json;
//     anything else answers 415, except that a PUT may omit it or send
//     curl's default form type (see plainFormat for why). application/json
//     accepts a JSON array of records; a body that is not an array is read as
//     NDJSON (one object = one record).
//   - A syntax error in a JSON array body cannot be resynchronised, so it
//     rejects the whole request (400) even with ?partial=true.
//   - Errors list at most maxLineErrors lines; the message gives the total.

const maxLineErrors = 100

type bodyFormat int

const (
	formatNDJSON bodyFormat = iota
	formatJSON
)

func (s *Server) servePlain(w http.ResponseWriter, r *http.Request, stream string) {
	const ct = "application/json"
	needsSigV4, e := s.authenticate(r)
	if e != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hydrant"`)
		s.writeError(w, r, ct, e)
		return
	}
	if _, err := s.streams.Describe(stream); err != nil {
		s.writeError(w, r, ct, s.appendError(r, stream, err, http.StatusNotFound))
		return
	}
	format, fe := plainFormat(r.Method, r.Header.Get("Content-Type"))
	if fe != nil {
		s.writeError(w, r, ct, fe)
		return
	}
	q := r.URL.Query()
	partial, _ := strconv.ParseBool(q.Get("partial"))
	keyField := q.Get("partition_key_field")

	st := s.state()
	defer s.release(st)
	var verify func([]byte) *apiError
	if needsSigV4 {
		verify = func(raw []byte) *apiError { return s.verifySigV4(r, raw) }
	}
	body, e := s.readBodyMaybeGzip(r, st, s.lim.MaxRequestBytes, verify)
	if e != nil {
		s.writeError(w, r, ct, e)
		return
	}
	defer st.dec.release()
	st.dec.recs = st.dec.recs[:0]
	st.errs = st.errs[:0]
	nErrs := 0
	onErr := func(line int, msg string) {
		nErrs++
		if len(st.errs) < maxLineErrors {
			st.errs = append(st.errs, api.LineError{Line: line, Message: msg})
		}
	}
	if format == formatJSON && firstByte(body) == '[' {
		e = s.parseArray(body, keyField, st)
	} else {
		e = s.parseNDJSON(body, keyField, st, onErr)
	}
	if e != nil {
		s.writeError(w, r, ct, e)
		return
	}
	recs := st.dec.recs
	if nErrs > 0 && (!partial || len(recs) == 0) {
		s.writeError(w, r, ct, &apiError{status: http.StatusBadRequest, code: api.ErrInvalidArgument,
			msg: fmt.Sprintf("%d malformed records; nothing stored", nErrs), lines: st.errs})
		return
	}
	if len(recs) == 0 {
		s.writeError(w, r, ct, invalidArg("request has no records"))
		return
	}
	now := s.now()
	for i := range recs {
		recs[i].Arrived = now
	}
	if err := s.streams.Append(r.Context(), stream, recs); err != nil {
		s.writeError(w, r, ct, s.appendError(r, stream, err, http.StatusNotFound))
		return
	}
	out := append(st.out[:0], `{"accepted":`...)
	out = strconv.AppendInt(out, int64(len(recs)), 10)
	out = append(out, `,"failed":`...)
	out = strconv.AppendInt(out, int64(nErrs), 10)
	out = append(out, `,"records":[`...)
	for i := range recs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"record_id":`...)
		out = appendJSONString(out, recs[i].ID)
		out = append(out, `,"shard_id":`...)
		out = appendJSONString(out, string(recs[i].Shard))
		out = append(out, `,"sequence_number":"`...)
		out = strconv.AppendUint(out, recs[i].Seq, 10)
		out = append(out, `"}`...)
	}
	out = append(out, ']')
	if len(st.errs) > 0 {
		out = append(out, `,"errors":[`...)
		for i, le := range st.errs {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"line":`...)
			out = strconv.AppendInt(out, int64(le.Line), 10)
			out = append(out, `,"message":`...)
			out = appendJSONString(out, le.Message)
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	out = append(out, '}')
	st.out = out
	writeBody(w, ct, out)
}

// plainFormat reads the body format from Content-Type. A browser may POST
// cross-origin without a CORS preflight when the type is text/plain,
// application/x-www-form-urlencoded, multipart/form-data or absent, so a
// POST must name a JSON or NDJSON type (else 415): a web page cannot write.
// A cross-origin PUT always needs a preflight, which Hydrant never grants,
// so a PUT may also omit the type or carry curl's default form type (the
// README's one-liner); its body is read as NDJSON. gzip goes in
// Content-Encoding.
func plainFormat(method, contentType string) (bodyFormat, *apiError) {
	if contentType == "" {
		if method == http.MethodPut {
			return formatNDJSON, nil
		}
		return 0, &apiError{status: http.StatusUnsupportedMediaType, code: api.ErrUnsupportedMediaType,
			msg: "missing Content-Type; use application/x-ndjson or application/json"}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, &apiError{status: http.StatusUnsupportedMediaType, code: api.ErrUnsupportedMediaType,
			msg: "malformed Content-Type " + strconv.Quote(contentType)}
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonl",
		"application/jsonlines", "application/x-jsonlines":
		return formatNDJSON, nil
	case "application/x-www-form-urlencoded":
		if method == http.MethodPut { // curl --data-binary's default
			return formatNDJSON, nil
		}
	case "application/json":
		return formatJSON, nil
	}
	return 0, &apiError{status: http.StatusUnsupportedMediaType, code: api.ErrUnsupportedMediaType,
		msg: "unsupported Content-Type " + strconv.Quote(mt) + "; use application/x-ndjson or application/json"}
}

func firstByte(b []byte) byte {
	if i := skipWS(b, 0); i < len(b) {
		return b[i]
	}
	return 0
}

// readBodyMaybeGzip reads (and gunzips) the body within limit bytes, both
// compressed and decompressed. verify, when set, checks the body as sent
// (SigV4 signs it) before anything is decompressed.
func (s *Server) readBodyMaybeGzip(r *http.Request, st *reqState, limit int64, verify func([]byte) *apiError) ([]byte, *apiError) {
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		var err error
		st.body, err = readBody(metered{s, st, r.Body}, st.body, r.ContentLength, limit)
		if err != nil {
			return nil, bodyReadError(err, limit, "")
		}
		if verify != nil {
			if e := verify(st.body); e != nil {
				return nil, e
			}
		}
		return st.body, nil
	case "gzip", "x-gzip":
		var err error
		st.raw, err = readBody(metered{s, st, r.Body}, st.raw, r.ContentLength, limit)
		if err != nil {
			return nil, bodyReadError(err, limit, "compressed ")
		}
		if verify != nil {
			if e := verify(st.raw); e != nil {
				return nil, e
			}
		}
		if st.gz == nil {
			st.gz, err = gzip.NewReader(bytes.NewReader(st.raw))
		} else {
			err = st.gz.Reset(bytes.NewReader(st.raw))
		}
		if err != nil {
			return nil, invalidArg("invalid gzip body: %v", err)
		}
		st.body, err = readBody(metered{s, st, st.gz}, st.body, -1, limit)
		if err != nil {
			switch {
			case errors.Is(err, errBodyTooLarge):
				return nil, tooLarge("decompressed body exceeds %d bytes", limit)
			case errors.Is(err, errBusy):
				return nil, busy()
			}
			return nil, invalidArg("invalid gzip body: %v", err)
		}
		return st.body, nil
	}
	return nil, &apiError{status: http.StatusUnsupportedMediaType, code: api.ErrUnsupportedMediaType,
		msg: "unsupported Content-Encoding " + strconv.Quote(enc) + "; use gzip or none"}
}

func bodyReadError(err error, limit int64, what string) *apiError {
	if errors.Is(err, errBodyTooLarge) {
		return tooLarge("%sbody exceeds %d bytes", what, limit)
	}
	if errors.Is(err, errBusy) {
		return busy()
	}
	return invalidArg("could not read request body: %v", err)
}

// addRecord appends one well-formed record, enforcing the record size. The
// count is bounded by the body's bytes alone: MaxRecordsPerRequest is
// PutRecordBatch's limit, and NDJSON of small records comes by the thousand.
func (s *Server) addRecord(st *reqState, data []byte, key string, line int) *apiError {
	if int64(len(data)) > s.lim.MaxRecordBytes {
		return tooLarge("record on line %d is %d bytes; the limit is %d", line, len(data), s.lim.MaxRecordBytes)
	}
	st.dec.recs = append(st.dec.recs, record.Record{Data: data, Key: key})
	return nil
}

// parseNDJSON splits body into lines; each non-blank line must be one JSON
// value. Bad lines go to onErr; limit breaches fail the request.
func (s *Server) parseNDJSON(body []byte, keyField string, st *reqState, onErr func(line int, msg string)) *apiError {
	line := 0
	for len(body) > 0 {
		line++
		var ln []byte
		if nl := bytes.IndexByte(body, '\n'); nl >= 0 {
			ln, body = body[:nl], body[nl+1:]
		} else {
			ln, body = body, nil
		}
		start := skipWS(ln, 0)
		end := len(ln)
		for end > start && isWS(ln[end-1]) {
			end--
		}
		if start == end {
			continue // blank line
		}
		rec := ln[start:end]
		n, key, err := scanRecord(rec, 0, 0, keyField)
		if err == nil && n != len(rec) {
			err = unexpected(rec, n, "after top-level value")
		}
		if err != nil {
			var se *syntaxError
			if errors.As(err, &se) {
				onErr(line, fmt.Sprintf("invalid JSON at column %d: %s", start+se.off+1, se.msg))
			} else {
				onErr(line, "invalid JSON: "+err.Error())
			}
			continue
		}
		if e := s.addRecord(st, rec, key, line); e != nil {
			return e
		}
	}
	return nil
}

// parseArray reads a JSON array body; each element is one record.
func (s *Server) parseArray(body []byte, keyField string, st *reqState) *apiError {
	fail := func(err error) *apiError {
		off := 0
		msg := err.Error()
		var se *syntaxError
		if errors.As(err, &se) {
			off, msg = se.off, se.msg
		}
		line, col := lineCol(body, off)
		return &apiError{status: http.StatusBadRequest, code: api.ErrInvalidArgument,
			msg:   "malformed JSON array; nothing stored",
			lines: []api.LineError{{Line: line, Message: fmt.Sprintf("invalid JSON at column %d: %s", col, msg)}}}
	}
	i := skipWS(body, 0) + 1 // past '['
	i = skipWS(body, i)
	if i < len(body) && body[i] == ']' {
		i++
	} else {
		for {
			start := i
			end, key, err := scanRecord(body, i, 1, keyField)
			if err != nil {
				return fail(err)
			}
			line, _ := lineCol(body, start)
			if e := s.addRecord(st, body[start:end], key, line); e != nil {
				return e
			}
			i = skipWS(body, end)
			if i < len(body) && body[i] == ',' {
				i = skipWS(body, i+1)
				continue
			}
			if i < len(body) && body[i] == ']' {
				i++
				break
			}
			return fail(unexpected(body, i, "after array element"))
		}
	}
	if i = skipWS(body, i); i != len(body) {
		return fail(unexpected(body, i, "after top-level value"))
	}
	return nil
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// scanRecord validates the JSON value at b[i] (depth = nesting depth of its
// container) and, when keyField is set and the value is an object, returns
// that top-level member's value as the partition key: a string's contents or
// a number's literal text; other types give no key.
func scanRecord(b []byte, i, depth int, keyField string) (end int, key string, err error) {
	if keyField == "" || i >= len(b) || b[i] != '{' {
		end, err = skipValue(b, i, depth)
		return end, "", err
	}
	if depth+1 > maxNestingDepth {
		return 0, "", errAt(i, "exceeded max depth")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, "", nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, "", unexpected(b, i, "looking for beginning of object key string")
		}
		kEnd, escaped, err := scanString(b, i)
		if err != nil {
			return 0, "", err
		}
		match := false
		if escaped {
			k, ok := unquote(b[i:kEnd])
			match = ok && k == keyField
		} else {
			match = string(b[i+1:kEnd-1]) == keyField
		}
		i = skipWS(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return 0, "", unexpected(b, i, "after object key")
		}
		i = skipWS(b, i+1)
		vStart := i
		if i, err = skipValue(b, i, depth+1); err != nil {
			return 0, "", err
		}
		if match {
			switch c := b[vStart]; {
			case c == '"':
				key, _ = unquote(b[vStart:i])
			case c == '-' || isDigit(c):
				key = string(b[vStart:i])
			default:
				key = ""
			}
		}
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, key, nil
		}
		return 0, "", unexpected(b, i, "after object key:value pair")
	}
}
