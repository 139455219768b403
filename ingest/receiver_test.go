package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
)

type receiverResponse struct {
	RequestID    string  `json:"requestId"`
	Timestamp    *int64  `json:"timestamp"`
	ErrorMessage *string `json:"errorMessage"`
}

func receiverCall(t *testing.T, h http.Handler, stream string, body []byte, hdr map[string]string) (int, receiverResponse) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/firehose-endpoint/"+stream, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	req.Header.Set("X-Amz-Firehose-Request-Id", "req-1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var resp receiverResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp), w.Body.String())
	require.Equal(t, "req-1", resp.RequestID, "the protocol echoes the request id")
	require.NotNil(t, resp.Timestamp, "timestamp is a required number")
	return w.Code, resp
}

func receiverBody(data ...string) []byte {
	var recs []map[string][]byte
	for _, d := range data {
		recs = append(recs, map[string][]byte{"data": []byte(d)})
	}
	b, _ := json.Marshal(map[string]any{"requestId": "req-1", "timestamp": 1578090901599, "records": recs})
	return b
}

func TestReceiver_StoresRecordsAndAnswersTheProtocol(t *testing.T) {
	f := newFake("logs")
	h := newTestServer(t, f, nil).Handler()
	code, resp := receiverCall(t, h, "logs", receiverBody(`{"a":1}`, "raw bytes"), nil)
	require.Equal(t, http.StatusOK, code)
	require.Nil(t, resp.ErrorMessage)
	require.Equal(t, []string{`{"a":1}`, "raw bytes"}, storedData(f))

	code, _ = receiverCall(t, h, "logs", gz(t, receiverBody("zipped")), map[string]string{"Content-Encoding": "gzip"})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "zipped", storedData(f)[2])
}

func TestReceiver_Errors(t *testing.T) {
	big := string(make([]byte, DefaultMaxRecordBytes+1))
	cases := []struct {
		name   string
		stream string
		body   []byte
		hdr    map[string]string
		err    error
		status int
	}{
		{"unknown stream", "nope", receiverBody("x"), nil, nil, http.StatusNotFound},
		{"malformed body", "logs", []byte(`{"records":[{"data":"%%%"}]}`), nil, nil, http.StatusBadRequest},
		{"record too large (permanent for Firehose)", "logs", receiverBody(big), nil, nil, http.StatusRequestEntityTooLarge},
		{"wrong protocol version", "logs", receiverBody("x"), map[string]string{"X-Amz-Firehose-Protocol-Version": "2.0"}, nil, http.StatusBadRequest},
		{"backpressure", "logs", receiverBody("x"), nil, fmt.Errorf("full: %w", record.ErrBackpressure), http.StatusServiceUnavailable},
		{"empty record", "logs", []byte(`{"requestId":"req-1","records":[{"data":"eA=="},{}]}`), nil, nil, http.StatusBadRequest},
		{"empty data", "logs", []byte(`{"requestId":"req-1","records":[{"data":""}]}`), nil, nil, http.StatusBadRequest},
		{"null data", "logs", []byte(`{"requestId":"req-1","records":[{"data":null}]}`), nil, nil, http.StatusBadRequest},
		{"records one over", "logs", receiverBody(slices.Repeat([]string{"x"}, maxReceiverRecords+1)...), nil, nil, http.StatusRequestEntityTooLarge},
		{"trailing data", "logs", append(receiverBody("x"), " {}"...), nil, nil, http.StatusBadRequest},
		{"not an object", "logs", []byte(`[{"data":"eA=="}]`), nil, nil, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			f.err = tc.err
			code, resp := receiverCall(t, newTestServer(t, f, nil).Handler(), tc.stream, tc.body, tc.hdr)
			require.Equal(t, tc.status, code)
			require.NotNil(t, resp.ErrorMessage)
			require.NotEmpty(t, *resp.ErrorMessage)
			require.Empty(t, f.stored("logs"), "nothing stored")
		})
	}
}

// gzipBomb compresses `{"records":[{},{},...]}` of about inflated bytes.
func gzipBomb(t *testing.T, inflated int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = zw.Write([]byte(`{"requestId":"req-1","records":[{}`))
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte(",{}"), 1<<14)
	for n := 0; n < inflated; n += len(chunk) {
		_, err = zw.Write(chunk)
		require.NoError(t, err)
	}
	_, err = zw.Write([]byte("]}"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// A small gzip body that inflates far past the receiver's limit
// (max_request_bytes, at least 8 MiB) is refused with 413 after reading at
// most the limit: the bytes allocated stay a small multiple of it, not of
// the inflated size.
func TestReceiver_RefusesGzipBomb(t *testing.T) {
	cases := []struct {
		name     string
		limit    int64 // max_request_bytes; 0 = default
		inflated int
	}{
		{"20 MB over a 64 KiB limit (8 MiB floor)", 64 << 10, 20 << 20},
		{"60 MB over the default limit", 0, 60 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			s := newTestServer(t, f, func(o *Options) { o.Limits.MaxRequestBytes = tc.limit })
			body := gzipBomb(t, tc.inflated)
			limit := s.receiverLimit()
			require.Less(t, int64(len(body)), limit, "the compressed body is within the limit: only inflating breaks it")
			req := httptest.NewRequest(http.MethodPost, "/v1/firehose-endpoint/logs", bytes.NewReader(body))
			req.Header.Set("Content-Encoding", "gzip")
			req.Header.Set("X-Amz-Firehose-Request-Id", "req-1")
			w := httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s.Handler().ServeHTTP(w, req)
			runtime.ReadMemStats(&after)
			require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
			require.Contains(t, w.Body.String(), `"__type":"RequestEntityTooLargeException"`)
			require.Empty(t, f.stored("logs"))
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4*limit+(1<<20)),
				"allocated bytes must be bounded by the limit, not the inflated size")
		})
	}
}

// Firehose's default 5 MiB buffer arrives base64-encoded, over the default
// max_request_bytes; the receiver takes it (a 413 would drop it for good).
func TestReceiver_TakesADefaultFirehoseBuffer(t *testing.T) {
	f := newFake("logs")
	h := newTestServer(t, f, nil).Handler()
	body := receiverBody(slices.Repeat([]string{strings.Repeat("x", 100<<10)}, 50)...)
	require.Greater(t, len(body), DefaultMaxRequestBytes)
	code, _ := receiverCall(t, h, "logs", body, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, f.stored("logs"), 50)
}

func TestReceiver_AccessKey(t *testing.T) {
	f := newFake("logs")
	h := newTestServer(t, f, func(o *Options) { o.APIKeys = []string{"k1"} }).Handler()
	code, _ := receiverCall(t, h, "logs", receiverBody("x"), nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = receiverCall(t, h, "logs", receiverBody("x"), map[string]string{"X-Amz-Firehose-Access-Key": "wrong"})
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = receiverCall(t, h, "logs", receiverBody("x"), map[string]string{"X-Amz-Firehose-Access-Key": "k1"})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"x"}, storedData(f))
}

// FuzzReceiver feeds arbitrary bodies to the HTTP-endpoint receiver: it
// never panics, always answers in the protocol's shape, and stores records
// only on 200.
func FuzzReceiver(f *testing.F) {
	f.Add(receiverBody(`{"a":1}`, ""))
	f.Add([]byte(`{"requestId":"x","records":[{"data":null}]}`))
	f.Add([]byte(`{"records":[{"data":"YQ"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fs := newFake("logs")
		h := newTestServer(t, fs, nil).Handler()
		code, resp := receiverCall(t, h, "logs", body, nil)
		if code != http.StatusOK {
			require.NotNil(t, resp.ErrorMessage)
			require.Empty(t, fs.stored("logs"))
		}
	})
}
