package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scriptedServer answers PutRecordBatch, failing records whose data is in
// failOnce on their first attempt, and whole requests with 503 while
// unavailable > 0.
type scriptedServer struct {
	mu          sync.Mutex
	failOnce    map[string]bool
	unavailable int
	attempts    int
	got         []string
}

func (s *scriptedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.unavailable > 0 {
		s.unavailable--
		w.Header().Set("X-Amzn-ErrorType", ErrServiceUnavailable)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"__type":"ServiceUnavailableException","message":"Slow down."}`)
		return
	}
	if r.Header.Get("X-Amz-Target") != TargetPrefix+OpPutRecordBatch {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"no"}`)
		return
	}
	var in PutRecordBatchInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var out PutRecordBatchOutput
	for _, rec := range in.Records {
		d := string(rec.Data)
		if s.failOnce[d] {
			delete(s.failOnce, d)
			out.FailedPutCount++
			out.RequestResponses = append(out.RequestResponses, PutRecordBatchEntryResult{ErrorCode: ErrServiceUnavailable, ErrorMessage: "Slow down."})
			continue
		}
		s.got = append(s.got, d)
		out.RequestResponses = append(out.RequestResponses, PutRecordBatchEntryResult{RecordID: "id-" + d})
	}
	_ = json.NewEncoder(w).Encode(out)
}

func TestClient_PutRecordBatchRetriesFailedRecords(t *testing.T) {
	s := &scriptedServer{failOnce: map[string]bool{"b": true}, unavailable: 1}
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := NewClient(ts.URL, WithBackoff(time.Millisecond, time.Millisecond), WithMaxAttempts(3))
	ids, err := c.PutRecordBatch(t.Context(), "logs", [][]byte{[]byte("a"), []byte("b"), []byte("c")})
	require.NoError(t, err)
	require.Equal(t, []string{"id-a", "id-b", "id-c"}, ids)
	require.Equal(t, []string{"a", "c", "b"}, s.got) // only b was resent
	require.Equal(t, 3, s.attempts)
}

func TestClient_PutRecordBatchGivesUp(t *testing.T) {
	s := &scriptedServer{unavailable: 10}
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := NewClient(ts.URL, WithBackoff(time.Millisecond, time.Millisecond), WithMaxAttempts(2))
	_, err := c.PutRecordBatch(t.Context(), "logs", [][]byte{[]byte("a")})
	var be *BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, []int{0}, be.Failed)
	require.Equal(t, 2, s.attempts)
}

func TestClient_NonRetryableError(t *testing.T) {
	s := &scriptedServer{}
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := NewClient(ts.URL, WithBackoff(time.Millisecond, time.Millisecond))
	_, err := c.PutRecord(t.Context(), "logs", []byte("x"))
	var ae *Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, ErrResourceNotFound, ae.Code)
	require.False(t, ae.Retryable())
	require.Equal(t, 1, s.attempts)
}

func TestParseAuthorization(t *testing.T) {
	a, err := ParseAuthorization("AWS4-HMAC-SHA256 Credential=AK/20240131/us-east-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	require.NoError(t, err)
	require.Equal(t, Authorization{AccessKeyID: "AK", Date: "20240131", Region: "us-east-1", Service: "firehose",
		SignedHeaders: []string{"host", "x-amz-date"}, Signature: "abc"}, a)
	for _, bad := range []string{"", "Bearer x", "AWS4-HMAC-SHA256 Credential=AK/x", "AWS4-HMAC-SHA256 Credential=AK/1/2/3/aws4_request, Signature=abc"} {
		_, err := ParseAuthorization(bad)
		require.Error(t, err, bad)
	}
}

func TestEpochSeconds(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{{time.Unix(1700000000, 0), "1700000000"}, {time.Unix(1700000000, 123e6), "1700000000.123"}} {
		b, err := json.Marshal(EpochSeconds(tc.t))
		require.NoError(t, err)
		require.Equal(t, tc.want, string(b), fmt.Sprint(tc.t))
	}
}
