package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

// fakeStreams is an in-memory Streams that copies what it stores.
type fakeStreams struct {
	mu      sync.Mutex
	streams map[string][]record.Record
	seq     uint64
	err     error // returned by Append when set
	calls   int
}

func newFake(names ...string) *fakeStreams {
	f := &fakeStreams{streams: map[string][]record.Record{}}
	for _, n := range names {
		f.streams[n] = nil
	}
	return f
}

func (f *fakeStreams) Append(_ context.Context, stream string, recs []record.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	if _, ok := f.streams[stream]; !ok {
		return fmt.Errorf("append to %q: %w", stream, record.ErrStreamNotFound)
	}
	for i := range recs {
		f.seq++
		recs[i].ID = fmt.Sprintf("id-%d", f.seq)
		recs[i].Shard = "shardId-000000000000"
		recs[i].Seq = f.seq
		r := recs[i]
		r.Data = bytes.Clone(r.Data)
		f.streams[stream] = append(f.streams[stream], r)
	}
	return nil
}

func (f *fakeStreams) List() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.streams {
		out = append(out, n)
	}
	return out
}

func (f *fakeStreams) Describe(stream string) (StreamInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.streams[stream]; !ok {
		return StreamInfo{}, record.ErrStreamNotFound
	}
	return StreamInfo{
		Name: stream, VersionID: "3", Created: time.Unix(1700000000, 500e6),
		Destinations: []DestinationInfo{
			{Name: "lake", Type: "s3", Bucket: "my-bucket", Prefix: "p/", ErrorPrefix: "err/", BufferBytes: 64 << 20, BufferInterval: time.Minute, Compression: "gzip"},
			{Name: "db", Type: "postgres"},
			{Name: "hook", Type: "http", URL: "https://example.com/in"},
		},
	}, nil
}

func (f *fakeStreams) stored(stream string) []record.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streams[stream]
}

func newTestServer(t *testing.T, f *fakeStreams, mod func(*Options)) *Server {
	t.Helper()
	o := Options{Streams: f}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	require.NoError(t, err)
	return s
}

// firehoseCall sends one Firehose operation through the handler.
func firehoseCall(t *testing.T, h http.Handler, op string, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", api.ContentType)
	if op != "" {
		req.Header.Set("X-Amz-Target", api.TargetPrefix+op)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func requireError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) api.ErrorResponse {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	require.Equal(t, code, w.Header().Get("X-Amzn-ErrorType"))
	require.NotEmpty(t, w.Header().Get("X-Amzn-RequestId"))
	var er api.ErrorResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &er))
	require.Equal(t, code, er.Type)
	require.NotEmpty(t, er.Message)
	return er
}

func batchBody(stream string, datas ...[]byte) string {
	var in api.PutRecordBatchInput
	in.DeliveryStreamName = stream
	for _, d := range datas {
		in.Records = append(in.Records, api.Record{Data: d})
	}
	b, _ := json.Marshal(in)
	return string(b)
}

func TestFirehose_PutRecordBatchOrderAndIDs(t *testing.T) {
	f := newFake("logs")
	h := newTestServer(t, f, nil).Handler()
	w := firehoseCall(t, h, api.OpPutRecordBatch, batchBody("logs", []byte("a"), []byte("bb"), []byte{}))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, api.ContentType, w.Header().Get("Content-Type"))
	require.NotEmpty(t, w.Header().Get("X-Amzn-RequestId"))
	// Fluent Bit's fast path needs this exact compact prefix.
	require.True(t, strings.HasPrefix(w.Body.String(), `{"FailedPutCount":0,`), w.Body.String())
	var out api.PutRecordBatchOutput
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.Len(t, out.RequestResponses, 3)
	stored := f.stored("logs")
	require.Len(t, stored, 3)
	for i, want := range []string{"a", "bb", ""} {
		require.Equal(t, stored[i].ID, out.RequestResponses[i].RecordID)
		require.Equal(t, want, string(stored[i].Data))
		require.False(t, stored[i].Arrived.IsZero())
	}
}

func TestFirehose_PutRecord(t *testing.T) {
	f := newFake("logs")
	h := newTestServer(t, f, nil).Handler()
	w := firehoseCall(t, h, api.OpPutRecord, `{"DeliveryStreamName":"logs","Record":{"Data":"aGk="}}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"RecordId":"id-1","Encrypted":false}`, w.Body.String())
	require.Equal(t, "hi", string(f.stored("logs")[0].Data))
}

func TestFirehose_Errors(t *testing.T) {
	big := make([]byte, DefaultMaxRecordBytes)
	cases := []struct {
		name   string
		op     string
		body   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"unknown stream", api.OpPutRecordBatch, batchBody("nope", []byte("x")), nil, 400, api.ErrResourceNotFound, "Firehose nope under account 000000000000 not found."},
		{"unknown stream put", api.OpPutRecord, `{"DeliveryStreamName":"nope","Record":{"Data":"eA=="}}`, nil, 400, api.ErrResourceNotFound, ""},
		{"backpressure", api.OpPutRecordBatch, batchBody("logs", []byte("x")), fmt.Errorf("x: %w", record.ErrBackpressure), 503, api.ErrServiceUnavailable, ""},
		{"internal", api.OpPutRecord, `{"DeliveryStreamName":"logs","Record":{"Data":"eA=="}}`, errors.New("disk on fire"), 500, api.ErrInternalFailure, ""},
		{"unknown op", "CreateDeliveryStream", `{}`, nil, 400, api.ErrUnknownOperation, ""},
		{"missing target", "", `{}`, nil, 400, api.ErrUnknownOperation, ""},
		{"malformed json", api.OpPutRecordBatch, `{"DeliveryStreamName":"logs","Records":[`, nil, 400, api.ErrSerialization, ""},
		{"bad base64", api.OpPutRecordBatch, `{"DeliveryStreamName":"logs","Records":[{"Data":"eA"}]}`, nil, 400, api.ErrSerialization, "records.1.member.data"},
		{"wrong type", api.OpPutRecordBatch, `{"DeliveryStreamName":5,"Records":[]}`, nil, 400, api.ErrSerialization, ""},
		{"zero records", api.OpPutRecordBatch, `{"DeliveryStreamName":"logs","Records":[]}`, nil, 400, api.ErrInvalidArgument, "greater than or equal to 1"},
		{"missing name", api.OpPutRecordBatch, batchBody("", []byte("x")), nil, 400, api.ErrInvalidArgument, "deliveryStreamName"},
		{"bad name", api.OpPutRecordBatch, batchBody("a b", []byte("x")), nil, 400, api.ErrInvalidArgument, "regular expression"},
		{"null data", api.OpPutRecordBatch, `{"DeliveryStreamName":"logs","Records":[{"Data":"eA=="},{}]}`, nil, 400, api.ErrInvalidArgument, "records.2.member.data"},
		{"missing record", api.OpPutRecord, `{"DeliveryStreamName":"logs"}`, nil, 400, api.ErrInvalidArgument, "record.data"},
		{"record one over", api.OpPutRecordBatch, batchBody("logs", []byte("x"), append(big, 'x')), nil, 400, api.ErrInvalidArgument,
			"1 validation error detected: Value '<1024001 bytes>' at 'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000"},
		{"put record one over", api.OpPutRecord, fmt.Sprintf(`{"DeliveryStreamName":"logs","Record":{"Data":%q}}`, base64.StdEncoding.EncodeToString(append(big, 'x'))), nil, 400, api.ErrInvalidArgument, "record.data"},
		{"describe unknown", api.OpDescribeDeliveryStream, `{"DeliveryStreamName":"nope"}`, nil, 400, api.ErrResourceNotFound, ""},
		{"list bad limit", api.OpListDeliveryStreams, `{"Limit":0}`, nil, 400, api.ErrInvalidArgument, ""},
		{"list malformed", api.OpListDeliveryStreams, `{"Limit":"x"}`, nil, 400, api.ErrSerialization, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			f.err = tc.err
			w := firehoseCall(t, newTestServer(t, f, nil).Handler(), tc.op, tc.body)
			er := requireError(t, w, tc.status, tc.code)
			require.Contains(t, er.Message, tc.msg)
			require.Equal(t, api.ContentType, w.Header().Get("Content-Type"))
			if tc.err == nil {
				require.Empty(t, f.stored("logs"))
			}
		})
	}
}

func TestFirehose_BatchLimitsAtBoundary(t *testing.T) {
	rec := make([]byte, DefaultMaxRecordBytes)
	many := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = []byte("x")
		}
		return out
	}
	// 4 full records plus a remainder: exactly 4 MiB, then one byte more.
	exact := [][]byte{rec, rec, rec, rec, make([]byte, DefaultMaxBatchDataBytes-4*DefaultMaxRecordBytes)}
	over := [][]byte{rec, rec, rec, rec, make([]byte, DefaultMaxBatchDataBytes-4*DefaultMaxRecordBytes+1)}
	cases := []struct {
		name string
		recs [][]byte
		ok   bool
		msg  string
	}{
		{"record at limit", [][]byte{rec}, true, ""},
		{"500 records", many(500), true, ""},
		{"501 records", many(501), false, "less than or equal to 500"},
		{"4 MiB", exact, true, ""},
		{"4 MiB + 1", over, false, "Records size exceeds 4 MB limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			w := firehoseCall(t, newTestServer(t, f, nil).Handler(), api.OpPutRecordBatch, batchBody("logs", tc.recs...))
			if tc.ok {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.Len(t, f.stored("logs"), len(tc.recs))
				return
			}
			er := requireError(t, w, 400, api.ErrInvalidArgument)
			require.Contains(t, er.Message, tc.msg)
			require.Empty(t, f.stored("logs"))
		})
	}
}

func TestFirehose_BodyLimit(t *testing.T) {
	f := newFake("logs")
	s := newTestServer(t, f, func(o *Options) { o.Limits.MaxRequestBytes = 10 << 20 })
	body := `{"DeliveryStreamName":"logs","Records":[{"Data":"` + strings.Repeat("A", 10<<20) + `"}]}`
	w := firehoseCall(t, s.Handler(), api.OpPutRecordBatch, body)
	requireError(t, w, http.StatusRequestEntityTooLarge, api.ErrRequestEntityTooLarge)
	require.Zero(t, f.calls)
}

func TestFirehose_ListDeliveryStreams(t *testing.T) {
	f := newFake("c", "a", "b", "d")
	h := newTestServer(t, f, nil).Handler()
	cases := []struct {
		body string
		want string
	}{
		{``, `{"DeliveryStreamNames":["a","b","c","d"],"HasMoreDeliveryStreams":false}`},
		{`{"Limit":2}`, `{"DeliveryStreamNames":["a","b"],"HasMoreDeliveryStreams":true}`},
		{`{"Limit":2,"ExclusiveStartDeliveryStreamName":"b"}`, `{"DeliveryStreamNames":["c","d"],"HasMoreDeliveryStreams":false}`},
		{`{"DeliveryStreamType":"KinesisStreamAsSource"}`, `{"DeliveryStreamNames":[],"HasMoreDeliveryStreams":false}`},
	}
	for _, tc := range cases {
		w := firehoseCall(t, h, api.OpListDeliveryStreams, tc.body)
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, tc.want, w.Body.String())
	}
}

func TestFirehose_DescribeDeliveryStream(t *testing.T) {
	h := newTestServer(t, newFake("logs"), func(o *Options) { o.Region = "eu-west-1" }).Handler()
	w := firehoseCall(t, h, api.OpDescribeDeliveryStream, `{"DeliveryStreamName":"logs","Limit":2}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var out map[string]map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	d := out["DeliveryStreamDescription"]
	require.Equal(t, "arn:aws:firehose:eu-west-1:000000000000:deliverystream/logs", d["DeliveryStreamARN"])
	require.Equal(t, "ACTIVE", d["DeliveryStreamStatus"])
	require.Equal(t, "DirectPut", d["DeliveryStreamType"])
	require.Equal(t, "3", d["VersionId"])
	require.InDelta(t, 1700000000.5, d["CreateTimestamp"], 0.0001)
	require.Equal(t, true, d["HasMoreDestinations"])
	dests := d["Destinations"].([]any)
	require.Len(t, dests, 2)
	first := dests[0].(map[string]any)
	require.Equal(t, "destinationId-000000000001", first["DestinationId"])
	ext := first["ExtendedS3DestinationDescription"].(map[string]any)
	require.Equal(t, "arn:aws:s3:::my-bucket", ext["BucketARN"])
	require.Equal(t, "GZIP", ext["CompressionFormat"])
	require.Equal(t, map[string]any{"SizeInMBs": 64.0, "IntervalInSeconds": 60.0}, ext["BufferingHints"])
	require.Equal(t, map[string]any{"NoEncryptionConfig": "NoEncryption"}, ext["EncryptionConfiguration"])
	require.NotEmpty(t, ext["RoleARN"])
	require.NotNil(t, first["S3DestinationDescription"])

	w = firehoseCall(t, h, api.OpDescribeDeliveryStream, `{"DeliveryStreamName":"logs","ExclusiveStartDestinationId":"destinationId-000000000002"}`)
	require.Equal(t, http.StatusOK, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	dests = out["DeliveryStreamDescription"]["Destinations"].([]any)
	require.Len(t, dests, 1)
	require.Contains(t, dests[0], "HttpEndpointDestinationDescription")
}

func TestServer_HealthAndRoutes(t *testing.T) {
	ready := errors.New("wal not open")
	h := newTestServer(t, newFake("logs"), func(o *Options) {
		o.Ready = func(context.Context) (string, error) { return "lake: bucket missing\n", ready }
	}).Handler()
	do := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	w := do(http.MethodGet, "/healthz")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "ok\n", w.Body.String())
	er := requireError(t, do(http.MethodGet, "/readyz"), 503, api.ErrServiceUnavailable)
	require.Contains(t, er.Message, "wal not open")
	require.Contains(t, er.Message, "lake: bucket missing", "the detail follows the reason")
	ready = nil
	w = do(http.MethodGet, "/readyz")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "ok\nlake: bucket missing\n", w.Body.String(), "the detail follows ok")
	requireError(t, do(http.MethodGet, "/"), 405, api.ErrMethodNotAllowed)
	requireError(t, do(http.MethodGet, "/v1/streams/logs/records"), 405, api.ErrMethodNotAllowed)
	requireError(t, do(http.MethodGet, "/nope"), 404, api.ErrNotFound)
}

func TestNew_Validates(t *testing.T) {
	_, err := New(Options{})
	require.Error(t, err)
	_, err = New(Options{Streams: newFake(), Limits: Limits{MaxRecordBytes: -1}})
	require.Error(t, err)
	_, err = New(Options{Streams: newFake(), APIKeys: []string{""}})
	require.Error(t, err)
	_, err = New(Options{Streams: newFake(), AWSCredentials: map[string]string{"id": ""}})
	require.Error(t, err)
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
