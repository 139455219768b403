package ingest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// doorRequest builds one write request for a door: "firehose" (PutRecord on
// POST /), "batch" (PUT /v1/streams/logs/records) or "receiver"
// (POST /v1/firehose-endpoint/logs).
func doorRequest(door string) (*http.Request, []byte) {
	switch door {
	case "firehose":
		body := []byte(`{"DeliveryStreamName":"logs","Record":{"Data":"eA=="}}`)
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4575/", bytes.NewReader(body))
		r.Header.Set("Content-Type", api.ContentType)
		r.Header.Set("X-Amz-Target", api.TargetPrefix+api.OpPutRecord)
		return r, body
	case "batch":
		body := []byte("{\"a\":1}\n")
		r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1:4575/v1/streams/logs/records?partition_key_field=a", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-ndjson")
		return r, body
	default:
		body := receiverBody("x")
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4575/v1/firehose-endpoint/logs", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Amz-Firehose-Request-Id", "req-1")
		return r, body
	}
}

func TestAuth_EveryWriteDoorIsGuarded(t *testing.T) {
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	creds := api.Credentials{AccessKeyID: "AKIDHYDRANT", SecretAccessKey: "s3cr3t"}
	sign := func(r *http.Request, body []byte) { api.SignRequest(r, body, creds, "us-east-1", now) }
	bearer := func(k string) func(*http.Request, []byte) {
		return func(r *http.Request, _ []byte) { r.Header.Set("Authorization", "Bearer "+k) }
	}
	xAPIKey := func(k string) func(*http.Request, []byte) {
		return func(r *http.Request, _ []byte) { r.Header.Set("X-Api-Key", k) }
	}
	accessKey := func(k string) func(*http.Request, []byte) {
		return func(r *http.Request, _ []byte) { r.Header.Set("X-Amz-Firehose-Access-Key", k) }
	}
	unsigned := func(*http.Request, []byte) {}
	const awsOnly, keysOnly, both = "aws", "keys", "both"
	cases := []struct {
		name, auth, door string
		cred             func(*http.Request, []byte)
		status           int // 200 = accepted
		code             string
	}{
		// Only aws_credentials: SigV4 on the Firehose and batch doors; the
		// receiver door has no usable credential and is closed.
		{"aws: firehose unsigned", awsOnly, "firehose", unsigned, 401, api.ErrMissingAuthToken},
		{"aws: firehose signed", awsOnly, "firehose", sign, 200, ""},
		{"aws: batch unsigned", awsOnly, "batch", unsigned, 401, api.ErrMissingAuthToken},
		{"aws: batch signed", awsOnly, "batch", sign, 200, ""},
		{"aws: batch bearer", awsOnly, "batch", bearer("s3cr3t"), 401, api.ErrUnrecognizedClient},
		{"aws: receiver unsigned", awsOnly, "receiver", unsigned, 401, api.ErrMissingAuthToken},
		{"aws: receiver access key", awsOnly, "receiver", accessKey("s3cr3t"), 401, api.ErrUnrecognizedClient},
		// Only api_keys: a key on every door.
		{"keys: firehose unsigned", keysOnly, "firehose", unsigned, 401, api.ErrMissingAuthToken},
		{"keys: firehose signed", keysOnly, "firehose", sign, 401, api.ErrMissingAuthToken},
		{"keys: firehose bearer", keysOnly, "firehose", bearer("k1"), 200, ""},
		{"keys: firehose x-api-key", keysOnly, "firehose", xAPIKey("k1"), 200, ""},
		{"keys: firehose wrong key", keysOnly, "firehose", xAPIKey("k2"), 401, api.ErrUnrecognizedClient},
		{"keys: batch unsigned", keysOnly, "batch", unsigned, 401, api.ErrMissingAuthToken},
		{"keys: batch bearer", keysOnly, "batch", bearer("k1"), 200, ""},
		{"keys: receiver unsigned", keysOnly, "receiver", unsigned, 401, api.ErrMissingAuthToken},
		{"keys: receiver access key", keysOnly, "receiver", accessKey("k1"), 200, ""},
		{"keys: receiver bearer is not its header", keysOnly, "receiver", bearer("k1"), 401, api.ErrMissingAuthToken},
		// Both: either kind where the door takes it.
		{"both: firehose signed", both, "firehose", sign, 200, ""},
		{"both: firehose key", both, "firehose", xAPIKey("k1"), 200, ""},
		{"both: batch signed", both, "batch", sign, 200, ""},
		{"both: batch key", both, "batch", bearer("k1"), 200, ""},
		{"both: batch bad signature", both, "batch", func(r *http.Request, b []byte) {
			sign(r, b)
			r.Header.Set("X-Amz-Date", now.Add(time.Second).Format(api.AmzDateFormat))
		}, 400, api.ErrInvalidSignature},
		{"both: receiver access key", both, "receiver", accessKey("k1"), 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			h := newTestServer(t, f, func(o *Options) {
				o.Now = func() time.Time { return now }
				if tc.auth != keysOnly {
					o.AWSCredentials = testCreds
				}
				if tc.auth != awsOnly {
					o.APIKeys = []string{"k1"}
				}
			}).Handler()
			r, body := doorRequest(tc.door)
			tc.cred(r, body)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if tc.status == http.StatusOK {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.Len(t, f.stored("logs"), 1)
				return
			}
			require.Equal(t, tc.status, w.Code, w.Body.String())
			var er struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &er))
			require.Equal(t, tc.code, er.Type)
			require.NotEmpty(t, er.Message)
			require.Empty(t, f.stored("logs"), "nothing stored")
		})
	}
}

func TestAuth_HealthStaysOpen(t *testing.T) {
	h := newTestServer(t, newFake("logs"), func(o *Options) {
		o.APIKeys = []string{"k1"}
		o.AWSCredentials = testCreds
	}).Handler()
	for _, path := range []string{"/healthz", "/readyz"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, w.Code, path)
		require.True(t, strings.HasPrefix(w.Body.String(), "ok"))
	}
}

func TestClient_SendsAPIKeyOnTheFirehoseDoor(t *testing.T) {
	f := newFake("logs")
	ts := httptest.NewServer(newTestServer(t, f, func(o *Options) { o.APIKeys = []string{"k1"} }).Handler())
	t.Cleanup(ts.Close)
	c := api.NewClient(ts.URL, api.WithAPIKey("k1"), api.WithMaxAttempts(1))
	_, err := c.PutRecordBatch(t.Context(), "logs", [][]byte{[]byte("x")})
	require.NoError(t, err)
	require.Len(t, f.stored("logs"), 1)
}
