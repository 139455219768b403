package httpendpoint_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/httpendpoint"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)

// serve starts rc and returns a sink configured by mod writing to it.
func serve(t *testing.T, rc http.Handler, mod func(*httpendpoint.Config)) *httpendpoint.Sink {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	cfg := httpendpoint.Config{URL: srv.URL + "/in", Now: func() time.Time { return fixedNow }}
	if mod != nil {
		mod(&cfg)
	}
	s, err := httpendpoint.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

func batch(n, size int) *record.Batch {
	recs := sinktest.Records(sinktest.Shard(3), 10, n, 1)
	if size > 0 {
		for i := range recs {
			recs[i].Data = sinktest.Payload(&recs[i], size)
		}
	}
	return sinktest.Batch(recs)
}

func datas(recs []record.Record) [][]byte {
	out := make([][]byte, len(recs))
	for i := range recs {
		out[i] = recs[i].Data
	}
	return out
}

func storedData(rc *receiver) [][]byte {
	var out [][]byte
	for _, r := range rc.Stored() {
		out = append(out, r.Data)
	}
	return out
}

func TestWrite_HeadersAndBody(t *testing.T) {
	rc := newReceiver()
	rc.AccessKey = "k-123"
	s := serve(t, rc, func(c *httpendpoint.Config) {
		c.AccessKey = "k-123"
		c.CommonAttributes = map[string]string{"team": "data", "env": "prod"}
		c.Region, c.Account = "eu-west-1", "123456789012"
	})
	b := batch(3, 0)
	b.Records[1].Data = []byte{0, 1, 2, 0xff, '"', '\\'} // binary survives base64
	require.NoError(t, s.Write(t.Context(), b))

	reqs := rc.Requests()
	require.Len(t, reqs, 1)
	c := reqs[0]
	h := c.Header
	require.Equal(t, "1.0", h.Get("X-Amz-Firehose-Protocol-Version"))
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Empty(t, h.Get("Content-Encoding"))
	require.Equal(t, "k-123", h.Get("X-Amz-Firehose-Access-Key"))
	require.Equal(t, "arn:aws:firehose:eu-west-1:123456789012:deliverystream/"+sinktest.Pipeline, h.Get("X-Amz-Firehose-Source-Arn"))
	require.JSONEq(t, `{"commonAttributes":{"team":"data","env":"prod"}}`, h.Get("X-Amz-Firehose-Common-Attributes"))
	id := h.Get("X-Amz-Firehose-Request-Id")
	require.Len(t, id, 36)
	require.Equal(t, httpendpoint.RequestID(b.ID().String(), b.ID().First, b.ID().Last), id)

	// The body's exact shape.
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(c.Body, &body))
	require.Len(t, body, 3, "requestId, timestamp, records: %s", c.Body)
	require.JSONEq(t, `"`+id+`"`, string(body["requestId"]))
	require.Equal(t, "1767323045006", string(body["timestamp"]), "milliseconds, a number")
	var recs []map[string]string
	require.NoError(t, json.Unmarshal(body["records"], &recs))
	require.Len(t, recs, 3)
	require.Equal(t, "AAEC/yJc", recs[1]["data"], "standard base64")
	require.Equal(t, datas(b.Records), c.Data)
	require.Equal(t, datas(b.Records), storedData(rc))

	// Without an access key or attributes the headers are absent.
	rc2 := newReceiver()
	s2 := serve(t, rc2, nil)
	require.NoError(t, s2.Write(t.Context(), batch(1, 0)))
	h = rc2.Requests()[0].Header
	require.NotContains(t, h, "X-Amz-Firehose-Access-Key")
	require.NotContains(t, h, "X-Amz-Firehose-Common-Attributes")
	require.Equal(t, "arn:aws:firehose:us-east-1:000000000000:deliverystream/"+sinktest.Pipeline, h.Get("X-Amz-Firehose-Source-Arn"))
}

func TestWrite_Gzip(t *testing.T) {
	rc := newReceiver()
	s := serve(t, rc, func(c *httpendpoint.Config) { c.ContentEncoding = "gzip" })
	b := batch(50, 200)
	require.NoError(t, s.Write(t.Context(), b))
	c := rc.Requests()[0]
	require.Equal(t, "gzip", c.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(bytes.NewReader(c.Raw))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Less(t, len(c.Raw), len(plain))
	require.Equal(t, c.Body, plain)
	require.Equal(t, datas(b.Records), storedData(rc))
}

func TestWrite_SplitByMaxBody(t *testing.T) {
	const maxBody = 4096
	rc := newReceiver()
	rc.MaxBody = maxBody // the receiver refuses anything larger with 413
	s := serve(t, rc, func(c *httpendpoint.Config) { c.MaxBodyBytes = maxBody })
	b := batch(40, 300)
	require.NoError(t, s.Write(t.Context(), b))
	reqs := rc.Requests()
	require.Greater(t, len(reqs), 4)
	ids := map[string]bool{}
	for _, c := range reqs {
		require.LessOrEqual(t, len(c.Body), maxBody)
		ids[c.Header.Get("X-Amz-Firehose-Request-Id")] = true
	}
	require.Len(t, ids, len(reqs), "each part has its own request id")
	require.Equal(t, datas(b.Records), storedData(rc), "all records, in order")

	// The same batch again: the same requests, with the same ids (the
	// receiver drops them as copies).
	require.NoError(t, s.Write(t.Context(), b))
	again := rc.Requests()[len(reqs):]
	require.Len(t, again, len(reqs))
	for i := range again {
		require.Equal(t, reqs[i].Header.Get("X-Amz-Firehose-Request-Id"), again[i].Header.Get("X-Amz-Firehose-Request-Id"))
		require.Equal(t, reqs[i].Data, again[i].Data)
	}
	require.Len(t, rc.Stored(), len(b.Records))

	// So does another sink (a restart): the ids are derived, not kept.
	s2 := serve(t, rc, func(c *httpendpoint.Config) { c.MaxBodyBytes = maxBody })
	require.NoError(t, s2.Write(t.Context(), b))
	again = rc.Requests()[2*len(reqs):]
	require.Len(t, again, len(reqs))
	for i := range again {
		require.Equal(t, reqs[i].Header.Get("X-Amz-Firehose-Request-Id"), again[i].Header.Get("X-Amz-Firehose-Request-Id"))
	}
	require.Len(t, rc.Stored(), len(b.Records))

	// A different batch identity gets other ids.
	other := *b
	other.Destination = "other"
	require.NoError(t, s.Write(t.Context(), &other))
	require.NotEqual(t, reqs[0].Header.Get("X-Amz-Firehose-Request-Id"), rc.Requests()[3*len(reqs)].Header.Get("X-Amz-Firehose-Request-Id"))
}

func TestWrite_PartialFailureRetriesOnlyTheFailedPart(t *testing.T) {
	rc := newReceiver()
	rc.Fault = func(c *captured, n int) (int, string) {
		if n == 2 {
			return http.StatusInternalServerError, `{"requestId":"x","timestamp":1,"errorMessage":"disk full"}`
		}
		return 0, ""
	}
	var attempts []int
	s := serve(t, rc, func(c *httpendpoint.Config) {
		c.MaxBodyBytes = 4096
		c.Backoff = func(n int) time.Duration { attempts = append(attempts, n); return time.Duration(n) * time.Second }
	})
	b := batch(40, 300)
	err := s.Write(t.Context(), b)
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	reqs := rc.Requests()
	// Part 2 failed: the parts after it wait for the retry.
	require.Len(t, reqs, 2)
	delivered := len(reqs[0].Data)
	require.Len(t, be.Failed, len(b.Records)-delivered)
	for i := range b.Records {
		ferr, failed := be.Failed[i]
		require.Equal(t, i >= delivered, failed, "record %d", i)
		if failed {
			require.False(t, sinks.IsPermanent(ferr))
			require.Equal(t, record.HTTPEndpointFailed, record.ErrorType(ferr, ""))
		}
	}
	require.Contains(t, be.Failed[delivered].Error(), "disk full")
	var ra *sinks.RetryAfterError
	require.ErrorAs(t, err, &ra)
	require.Equal(t, time.Second, ra.After)

	// The runtime's retry: the pending records only. The failed part is
	// sent again with its id.
	retry := sinktest.Pending(b, err)
	require.Len(t, retry.Records, len(b.Records)-delivered)
	require.NoError(t, s.Write(t.Context(), retry))
	after := rc.Requests()[2:]
	require.Equal(t, reqs[1].Header.Get("X-Amz-Firehose-Request-Id"), after[0].Header.Get("X-Amz-Firehose-Request-Id"))
	require.Equal(t, reqs[1].Data, after[0].Data)
	require.Equal(t, datas(b.Records), storedData(rc))
	require.Equal(t, []int{1}, attempts)

	// Once delivered, the batch's state is gone: a failure starts the
	// schedule again.
	rc.Fault = func(*captured, int) (int, string) { return http.StatusBadGateway, "" }
	err = s.Write(t.Context(), b)
	require.ErrorAs(t, err, &ra)
	require.Equal(t, []int{1, 1}, attempts)
}

func TestWrite_BackoffGrowsWithAttempts(t *testing.T) {
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s := serve(t, h, nil)
	b := batch(2, 0)
	var got []time.Duration
	for range 9 {
		err := s.Write(t.Context(), b)
		var ra *sinks.RetryAfterError
		require.ErrorAs(t, err, &ra)
		var be *sinks.BatchError
		require.False(t, errors.As(err, &be), "one request failed whole: a plain error")
		require.False(t, sinks.IsPermanent(err))
		got = append(got, ra.After)
	}
	for i, d := range got {
		want := min(time.Second<<i, 120*time.Second)
		require.InDelta(t, float64(want), float64(d), float64(want)*0.15+1, "attempt %d: %v", i+1, d)
	}
	// A Retry-After longer than the schedule wins.
	h2 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	err := serve(t, h2, nil).Write(t.Context(), b)
	var ra *sinks.RetryAfterError
	require.ErrorAs(t, err, &ra)
	require.Equal(t, 7*time.Second, ra.After)
}

func TestFirehoseBackoff(t *testing.T) {
	for n := 1; n < 20; n++ {
		want := min(time.Second<<(n-1), 120*time.Second)
		for range 50 {
			d := httpendpoint.FirehoseBackoff(n)
			require.GreaterOrEqual(t, d, want*85/100, "n=%d", n)
			require.LessOrEqual(t, d, want*115/100, "n=%d", n)
		}
	}
}

// answer returns a handler answering every request with status, the
// content type and body (where {id} is the request's id).
func answer(status int, contentType, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, strings.ReplaceAll(body, "{id}", r.Header.Get("X-Amz-Firehose-Request-Id")))
	})
}

func TestWrite_Answers(t *testing.T) {
	const js = "application/json"
	for _, tc := range []struct {
		name        string
		h           http.Handler
		ok, perm    bool
		code, inMsg string
	}{
		{"200", answer(200, js, `{"requestId":"{id}","timestamp":1578090903599}`), true, false, "", ""},
		{"200 null errorMessage", answer(200, "application/json; charset=utf-8", `{"requestId":"{id}","timestamp":1578090903599,"errorMessage":null}`), true, false, "", ""},
		{"413", answer(413, js, `{"requestId":"{id}","timestamp":1,"errorMessage":"too big"}`), false, true, httpendpoint.CodeDestinationException, "too big"},
		{"500", answer(500, js, `{"requestId":"{id}","timestamp":1,"errorMessage":"boom"}`), false, false, httpendpoint.CodeDestinationException, "boom"},
		{"429", answer(429, "", `slow down`), false, false, httpendpoint.CodeDestinationException, "slow down"},
		{"404", answer(404, "text/plain", `no such path`), false, false, httpendpoint.CodeDestinationException, "no such path"},
		{"201", answer(201, js, `{"requestId":"{id}","timestamp":1}`), false, false, httpendpoint.CodeDestinationException, ""},
		{"302", http.RedirectHandler("/elsewhere", http.StatusFound), false, false, httpendpoint.CodeDestinationException, ""},
		{"mismatched requestId", answer(200, js, `{"requestId":"someone-else","timestamp":1}`), false, false, httpendpoint.CodeInvalidResponse, "does not match"},
		{"no requestId", answer(200, js, `{"timestamp":1}`), false, false, httpendpoint.CodeInvalidResponse, "no requestId"},
		{"string timestamp", answer(200, js, `{"requestId":"{id}","timestamp":"1578090903599"}`), false, false, httpendpoint.CodeInvalidResponse, "not a number"},
		{"no timestamp", answer(200, js, `{"requestId":"{id}"}`), false, false, httpendpoint.CodeInvalidResponse, "no timestamp"},
		{"null timestamp", answer(200, js, `{"requestId":"{id}","timestamp":null}`), false, false, httpendpoint.CodeInvalidResponse, ""},
		{"not JSON", answer(200, js, `OK`), false, false, httpendpoint.CodeInvalidResponse, "malformed"},
		{"empty", answer(200, js, ``), false, false, httpendpoint.CodeInvalidResponse, "malformed"},
		{"two objects", answer(200, js, `{"requestId":"{id}","timestamp":1}{}`), false, false, httpendpoint.CodeInvalidResponse, "after"},
		{"no content type", answer(200, "", `{"requestId":"{id}","timestamp":1}`), false, false, httpendpoint.CodeInvalidResponse, "Content-Type"},
		{"too large", answer(200, js, `{"requestId":"{id}","timestamp":1,"x":"`+strings.Repeat("a", httpendpoint.MaxResponseBytes)+`"}`), false, false, httpendpoint.CodeResponseTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.h, nil)
			b := batch(3, 0)
			err := s.Write(t.Context(), b)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var be *sinks.BatchError
			require.False(t, errors.As(err, &be), "one request: the batch fails whole")
			require.Equal(t, tc.perm, sinks.IsPermanent(err), "%v", err)
			require.Equal(t, record.HTTPEndpointFailed, record.ErrorType(err, ""))
			var e *httpendpoint.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.code, e.Code)
			require.Contains(t, e.Message, tc.inMsg)
			var ra *sinks.RetryAfterError
			require.Equal(t, !tc.perm, errors.As(err, &ra), "a retryable error carries the back-off")
		})
	}
}

func TestWrite_413FailsOnlyItsPart(t *testing.T) {
	rc := newReceiver()
	rc.Fault = func(c *captured, n int) (int, string) {
		if n == 1 {
			return 413, `{"requestId":"x","timestamp":1}`
		}
		return 0, ""
	}
	s := serve(t, rc, func(c *httpendpoint.Config) { c.MaxBodyBytes = 4096 })
	b := batch(30, 300)
	err := s.Write(t.Context(), b)
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	first := len(rc.Requests()[0].Data)
	require.Len(t, be.Failed, first)
	for i := range first {
		require.True(t, sinks.IsPermanent(be.Failed[i]))
	}
	var ra *sinks.RetryAfterError
	require.False(t, errors.As(err, &ra), "nothing to retry")
	require.Equal(t, datas(b.Records[first:]), storedData(rc))
}

func TestWrite_RecordTooLarge(t *testing.T) {
	rc := newReceiver()
	s := serve(t, rc, func(c *httpendpoint.Config) { c.MaxBodyBytes = 4096 })
	b := batch(4, 100)
	b.Records[2].Data = bytes.Repeat([]byte("x"), 4096)
	err := s.Write(t.Context(), b)
	var be *sinks.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Failed, 1)
	require.True(t, sinks.IsPermanent(be.Failed[2]))
	require.Equal(t, record.HTTPEndpointFailed, record.ErrorType(be.Failed[2], ""))
	require.Equal(t, [][]byte{b.Records[0].Data, b.Records[1].Data, b.Records[3].Data}, storedData(rc))
}

func TestWrite_Timeout(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := serve(t, h, func(c *httpendpoint.Config) { c.Timeout = 100 * time.Millisecond })
	defer close(release)
	start := time.Now()
	err := s.Write(t.Context(), batch(2, 0))
	require.Less(t, time.Since(start), 5*time.Second)
	var e *httpendpoint.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, httpendpoint.CodeRequestTimeout, e.Code)
	require.False(t, sinks.IsPermanent(err))
}

func TestWrite_ConnectionFailed(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	s, err := httpendpoint.New(httpendpoint.Config{URL: srv.URL})
	require.NoError(t, err)
	err = s.Write(t.Context(), batch(2, 0))
	var e *httpendpoint.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, httpendpoint.CodeConnectionFailed, e.Code)
	require.False(t, sinks.IsPermanent(err))
	require.Error(t, s.Check(t.Context()))
}

func TestWrite_TLSWithCustomCA(t *testing.T) {
	rc := newReceiver()
	srv := httptest.NewTLSServer(rc)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	s, err := httpendpoint.New(httpendpoint.Config{URL: srv.URL, CAFile: caFile})
	require.NoError(t, err)
	b := batch(3, 0)
	require.NoError(t, s.Write(t.Context(), b))
	require.NoError(t, s.Check(t.Context()))
	require.Equal(t, datas(b.Records), storedData(rc))
	require.NoError(t, s.Close(t.Context()))

	// Without the CA the server is not trusted (retryable: the operator
	// may fix the certificate).
	s2, err := httpendpoint.New(httpendpoint.Config{URL: srv.URL})
	require.NoError(t, err)
	err = s2.Write(t.Context(), b)
	require.Error(t, err)
	require.False(t, sinks.IsPermanent(err))
	require.Contains(t, err.Error(), "certificate")

	_, err = httpendpoint.New(httpendpoint.Config{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "missing.pem")})
	require.Error(t, err)
}

func TestCheck(t *testing.T) {
	rc := newReceiver()
	rc.AccessKey = "good"
	s := serve(t, rc, func(c *httpendpoint.Config) { c.AccessKey = "good"; c.Pipeline = "clicks" })
	require.NoError(t, s.Check(t.Context()))
	reqs := rc.Requests()
	require.Len(t, reqs, 1)
	require.Empty(t, reqs[0].Data, "Check sends no records")
	require.Empty(t, rc.Stored())
	require.Equal(t, "arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks", reqs[0].Header.Get("X-Amz-Firehose-Source-Arn"))

	wrong := serve(t, rc, func(c *httpendpoint.Config) { c.AccessKey = "bad" })
	require.ErrorContains(t, wrong.Check(t.Context()), "status 401")
}

func TestNew_Invalid(t *testing.T) {
	for _, cfg := range []httpendpoint.Config{
		{},
		{URL: "ftp://x/y"},
		{URL: "http://x", ContentEncoding: "zstd"},
		{URL: "http://x", MaxBodyBytes: 100},
		{URL: "http://x", AccessKey: strings.Repeat("k", 4097)},
	} {
		_, err := httpendpoint.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestWrite_CancelledContext(t *testing.T) {
	rc := newReceiver()
	s := serve(t, rc, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Write(ctx, batch(2, 0))
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, rc.Requests())
}
