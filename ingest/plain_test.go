package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

type plainReq struct {
	method, path, ctype, enc string
	headers                  map[string]string
	body                     []byte
}

func plainCall(t *testing.T, h http.Handler, p plainReq) *httptest.ResponseRecorder {
	t.Helper()
	if p.method == "" {
		p.method = http.MethodPut
	}
	if p.path == "" {
		p.path = "/v1/streams/logs/records"
	}
	req := httptest.NewRequest(p.method, p.path, bytes.NewReader(p.body))
	switch p.ctype {
	case "": // what hydrant put sends
		req.Header.Set("Content-Type", "application/x-ndjson")
	case "-": // no Content-Type at all
	default:
		req.Header.Set("Content-Type", p.ctype)
	}
	if p.enc != "" {
		req.Header.Set("Content-Encoding", p.enc)
	}
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func storedData(f *fakeStreams) []string {
	var out []string
	for _, r := range f.stored("logs") {
		out = append(out, string(r.Data))
	}
	return out
}

func TestPlain_Accepts(t *testing.T) {
	cases := []struct {
		name  string
		req   plainReq
		want  []string
		keys  []string
		fails int
	}{
		{"ndjson default", plainReq{body: []byte("{\"a\":1}\n\n  [1,2] \r\n\"s\"")}, []string{`{"a":1}`, `[1,2]`, `"s"`}, nil, 0},
		{"ndjson post", plainReq{method: http.MethodPost, ctype: "application/x-ndjson", body: []byte("1\n2\n")}, []string{"1", "2"}, nil, 0},
		{"put without content type", plainReq{ctype: "-", body: []byte("1\n2")}, []string{"1", "2"}, nil, 0},
		{"put with curl's default", plainReq{ctype: "application/x-www-form-urlencoded", body: []byte("{\"n\":3}\n")}, []string{`{"n":3}`}, nil, 0},
		{"ndjson charset", plainReq{ctype: "application/x-ndjson; charset=utf-8", body: []byte("true")}, []string{"true"}, nil, 0},
		{"ndjson alias", plainReq{ctype: "application/ndjson", body: []byte("true")}, []string{"true"}, nil, 0},
		{"jsonl", plainReq{ctype: "application/jsonl", body: []byte("true")}, []string{"true"}, nil, 0},
		{"jsonlines", plainReq{ctype: "application/jsonlines", body: []byte("true")}, []string{"true"}, nil, 0},
		{"x-jsonlines", plainReq{ctype: "application/x-jsonlines", body: []byte("true")}, []string{"true"}, nil, 0},
		{"json lines body", plainReq{ctype: "application/json; charset=utf-8", body: []byte("{\"n\":3}\n{\"n\":4}\n")}, []string{`{"n":3}`, `{"n":4}`}, nil, 0},
		{"json array", plainReq{ctype: "application/json", body: []byte(" [ {\"a\": [1]} ,\n\"x\" , null ] ")}, []string{`{"a": [1]}`, `"x"`, `null`}, nil, 0},
		{"json single object", plainReq{ctype: "application/json", body: []byte(`{"a":1}`)}, []string{`{"a":1}`}, nil, 0},
		{"gzip", plainReq{enc: "gzip", body: []byte("{\"a\":1}\n{\"b\":2}\n")}, []string{`{"a":1}`, `{"b":2}`}, nil, 0},
		{"partition key", plainReq{path: "/v1/streams/logs/records?partition_key_field=user_id",
			body: []byte("{\"user_id\":\"u\\u0031\",\"x\":{\"user_id\":9}}\n{\"user_id\":42}\n{\"x\":1}\n{\"user_id\":true}\n[1]")},
			[]string{`{"user_id":"u\u0031","x":{"user_id":9}}`, `{"user_id":42}`, `{"x":1}`, `{"user_id":true}`, `[1]`}, []string{"u1", "42", "", "", ""}, 0},
		{"partial", plainReq{path: "/v1/streams/logs/records?partial=true", body: []byte("{\"a\":1}\n{bad\n2")}, []string{`{"a":1}`, "2"}, nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			h := newTestServer(t, f, nil).Handler()
			if tc.req.enc == "gzip" {
				tc.req.body = gz(t, tc.req.body)
			}
			w := plainCall(t, h, tc.req)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.Equal(t, "application/json", w.Header().Get("Content-Type"))
			var out api.RecordsResponse
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
			require.Equal(t, len(tc.want), out.Accepted)
			require.Equal(t, tc.fails, out.Failed)
			require.Len(t, out.Errors, tc.fails)
			require.Equal(t, tc.want, storedData(f))
			for i, r := range f.stored("logs") {
				require.Equal(t, string(r.Shard), out.Records[i].ShardID)
				require.Equal(t, fmt.Sprint(r.Seq), out.Records[i].SequenceNumber)
				require.Equal(t, r.ID, out.Records[i].RecordID)
				if tc.keys != nil {
					require.Equal(t, tc.keys[i], r.Key, "record %d", i)
				}
			}
		})
	}
}

func TestPlain_PartialReportsLines(t *testing.T) {
	f := newFake("logs")
	w := plainCall(t, newTestServer(t, f, nil).Handler(), plainReq{
		path: "/v1/streams/logs/records?partial=true", body: []byte("1\n{\"a\":}\n\n3\n[1,]\n"),
	})
	require.Equal(t, http.StatusOK, w.Code)
	var out api.RecordsResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.Equal(t, 2, out.Accepted)
	require.Equal(t, 2, out.Failed)
	require.Equal(t, 2, out.Errors[0].Line)
	require.Equal(t, 5, out.Errors[1].Line)
	require.Contains(t, out.Errors[0].Message, "column 6")
}

func TestPlain_Rejects(t *testing.T) {
	over := `"` + strings.Repeat("x", DefaultMaxRecordBytes-1) + `"` // 1 byte over
	cases := []struct {
		name   string
		req    plainReq
		mod    func(*Options)
		err    error
		status int
		code   string
		lines  []int
	}{
		{"malformed lines", plainReq{body: []byte("1\n{\"a\":1\n2\nnope\n")}, nil, nil, 400, api.ErrInvalidArgument, []int{2, 4}},
		{"partial all bad", plainReq{path: "/v1/streams/logs/records?partial=true", body: []byte("x\n")}, nil, nil, 400, api.ErrInvalidArgument, []int{1}},
		{"malformed array", plainReq{ctype: "application/json", body: []byte("[1,\n2,\n{]")}, nil, nil, 400, api.ErrInvalidArgument, []int{3}},
		{"array trailing", plainReq{ctype: "application/json", body: []byte("[1] 2")}, nil, nil, 400, api.ErrInvalidArgument, []int{1}},
		{"empty", plainReq{body: []byte("\n \n")}, nil, nil, 400, api.ErrInvalidArgument, nil},
		{"unknown stream", plainReq{path: "/v1/streams/nope/records", body: []byte("1")}, nil, nil, 404, api.ErrResourceNotFound, nil},
		{"backpressure", plainReq{body: []byte("1")}, nil, fmt.Errorf("w: %w", record.ErrBackpressure), 503, api.ErrServiceUnavailable, nil},
		{"internal", plainReq{body: []byte("1")}, nil, fmt.Errorf("boom"), 500, api.ErrInternalFailure, nil},
		{"bad content type", plainReq{ctype: "application/xml", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		// Content types a browser may send cross-origin without a preflight
		// (and a missing one) are refused: a web page cannot write.
		{"text/plain", plainReq{method: http.MethodPost, ctype: "text/plain", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		{"text/plain put", plainReq{ctype: "text/plain; charset=utf-8", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		{"form", plainReq{method: http.MethodPost, ctype: "application/x-www-form-urlencoded", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		{"multipart", plainReq{method: http.MethodPost, ctype: "multipart/form-data; boundary=x", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		{"octet-stream", plainReq{ctype: "application/octet-stream", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		{"no content type", plainReq{method: http.MethodPost, ctype: "-", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		{"bad encoding", plainReq{enc: "br", body: []byte("1")}, nil, nil, 415, api.ErrUnsupportedMediaType, nil},
		{"bad gzip", plainReq{enc: "gzip", body: []byte("not gzip")}, nil, nil, 400, api.ErrInvalidArgument, nil},
		{"record one over", plainReq{body: []byte("1\n" + over)}, nil, nil, 413, api.ErrRequestEntityTooLarge, nil},
		{"body one over", plainReq{body: []byte("12345678901")}, func(o *Options) { o.Limits.MaxRequestBytes = 10 }, nil, 413, api.ErrRequestEntityTooLarge, nil},
		{"gzip bomb", plainReq{enc: "gzip", body: []byte(strings.Repeat("1\n", 6000))}, func(o *Options) { o.Limits.MaxRequestBytes = 10000 }, nil, 413, api.ErrRequestEntityTooLarge, nil},
		{"missing key", plainReq{body: []byte("1")}, func(o *Options) { o.APIKeys = []string{"k1"} }, nil, 401, api.ErrMissingAuthToken, nil},
		{"bad key", plainReq{body: []byte("1"), headers: map[string]string{"X-Api-Key": "k2"}}, func(o *Options) { o.APIKeys = []string{"k1"} }, nil, 401, api.ErrUnrecognizedClient, nil},
		{"bad bearer", plainReq{body: []byte("1"), headers: map[string]string{"Authorization": "Bearer k"}}, func(o *Options) { o.APIKeys = []string{"k1"} }, nil, 401, api.ErrUnrecognizedClient, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			f.err = tc.err
			if tc.req.enc == "gzip" && !strings.Contains(tc.name, "bad") {
				tc.req.body = gz(t, tc.req.body)
			}
			w := plainCall(t, newTestServer(t, f, tc.mod).Handler(), tc.req)
			er := requireError(t, w, tc.status, tc.code)
			var lines []int
			for _, le := range er.Errors {
				lines = append(lines, le.Line)
			}
			require.Equal(t, tc.lines, lines)
			require.Empty(t, f.stored("logs"), "nothing stored on reject")
			if tc.status == 503 {
				require.Equal(t, "1", w.Header().Get("Retry-After"))
			}
		})
	}
}

func TestPlain_LimitsAtBoundary(t *testing.T) {
	exact := `"` + strings.Repeat("x", DefaultMaxRecordBytes-2) + `"`
	f := newFake("logs")
	h := newTestServer(t, f, func(o *Options) { o.Limits.MaxRecordsPerRequest = 3; o.Limits.MaxRequestBytes = 2 << 20 }).Handler()
	w := plainCall(t, h, plainReq{body: []byte(exact + "\n1\n2")})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Len(t, f.stored("logs"), 3)
}

// The batch door is bounded by bytes only: max_records_per_request is
// PutRecordBatch's limit, and small records may come by the thousand.
func TestPlain_RecordCountIsBoundedByBytesOnly(t *testing.T) {
	for _, ctype := range []string{"application/x-ndjson", "application/json"} {
		t.Run(ctype, func(t *testing.T) {
			f := newFake("logs")
			h := newTestServer(t, f, nil).Handler()
			var b strings.Builder
			if ctype == "application/json" {
				b.WriteString("[")
			}
			for i := range 10_000 {
				if ctype == "application/json" && i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, "{\"n\":%d}\n", i)
			}
			if ctype == "application/json" {
				b.WriteString("]")
			}
			w := plainCall(t, h, plainReq{ctype: ctype, body: []byte(b.String())})
			require.Equal(t, http.StatusOK, w.Code, w.Body.String()[:min(200, w.Body.Len())])
			require.Len(t, f.stored("logs"), 10_000)
		})
	}
}

func TestPlain_APIKeys(t *testing.T) {
	f := newFake("logs")
	h := newTestServer(t, f, func(o *Options) { o.APIKeys = []string{"k1", "k2"} }).Handler()
	for _, hdr := range []map[string]string{{"Authorization": "Bearer k2"}, {"X-Api-Key": "k1"}} {
		w := plainCall(t, h, plainReq{body: []byte("1"), headers: hdr})
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	require.Len(t, f.stored("logs"), 2)
	// The Firehose door is guarded by the same keys.
	w := firehoseCall(t, h, api.OpPutRecord, `{"DeliveryStreamName":"logs","Record":{"Data":"eA=="}}`)
	requireError(t, w, http.StatusUnauthorized, api.ErrMissingAuthToken)
}

var ndjsonSeeds = []string{
	"{\"a\":1}\n[1,2]\n\"s\"\n", "\n\n", "{bad\n1", "[1,]", "{\"user_id\":\"x\"}", "{\"user_id\":1e5,\"user_id\":\"y\"}",
	"{\"u\\u0073er_id\":\"k\"}", "\xff", "\"\\ud800\"", "1 2", "[", "{\"a\":{\"user_id\":1}}",
}

// FuzzNDJSON checks the line parser: never panics, every accepted line is
// valid JSON by encoding/json, every line encoding/json accepts is accepted,
// and extracted keys match encoding/json's reading of the field.
func FuzzNDJSON(f *testing.F) {
	for _, s := range ndjsonSeeds {
		f.Add([]byte(s))
	}
	srv, err := New(Options{Streams: newFake()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st := &reqState{}
		bad := map[int]bool{}
		e := srv.parseNDJSON(body, "user_id", st, func(line int, _ string) { bad[line] = true })
		if e != nil {
			require.Equal(t, http.StatusRequestEntityTooLarge, e.status)
			return
		}
		lines := bytes.Split(body, []byte("\n"))
		var want []string
		for i, ln := range lines {
			if len(bytes.Trim(ln, " \t\r\n")) == 0 {
				continue
			}
			if json.Valid(ln) {
				require.False(t, bad[i+1], "line %d valid but rejected: %q", i+1, ln)
				want = append(want, string(bytes.Trim(ln, " \t\r\n")))
			} else {
				require.True(t, bad[i+1], "line %d invalid but accepted: %q", i+1, ln)
			}
		}
		require.Len(t, st.dec.recs, len(want))
		for i, r := range st.dec.recs {
			require.Equal(t, want[i], string(r.Data))
			var obj map[string]json.RawMessage
			key := ""
			if json.Unmarshal(r.Data, &obj) == nil {
				if v, ok := obj["user_id"]; ok {
					var s string
					if json.Unmarshal(v, &s) == nil {
						key = s
					} else if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
						key = string(v)
					}
				}
			}
			require.Equal(t, key, r.Key, "record %q", r.Data)
		}
	})
}
