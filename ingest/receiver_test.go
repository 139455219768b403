package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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
