package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

var arrived = time.UnixMilli(1507217624302).UTC()

func recs(data ...string) []record.Record {
	out := make([]record.Record, len(data))
	for i, d := range data {
		out[i] = record.Record{ID: fmt.Sprintf("id%03d", i), Key: "pk" + strconv.Itoa(i), Data: []byte(d),
			Arrived: arrived, Shard: "shardId-000000000001", Seq: uint64(100 + i), Meta: map[string]string{"query.x": "kept"}}
	}
	return out
}

func cfg() Config {
	return Config{DeliveryStreamARN: "arn:aws:firehose:us-east-1:000000000000:deliverystream/events", Region: "us-east-1", Timeout: 10 * time.Second, Retries: 2}
}

func newHTTP(t testing.TB, url string, c Config) *Processor {
	t.Helper()
	p, err := NewHTTP(HTTPConfig{Config: c, URL: url})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func TestHTTP_AFirehoseLambdaHandlerRunsUnchanged(t *testing.T) {
	srv := newFront(t, upperHandler)
	p := newHTTP(t, srv.URL, cfg())
	require.Equal(t, 2, p.Retries())
	in := recs(`{"customer":"c1","n":1}`, `{"drop":true}`, `{"fail":true}`, `{"customer":"c2"}`)
	res, err := p.Process(t.Context(), in)
	require.NoError(t, err)
	require.Len(t, res, 4)

	require.Equal(t, transform.Ok, res[0].Status)
	require.Len(t, res[0].Out, 1)
	out := res[0].Out[0]
	require.Equal(t, `{"CUSTOMER":"C1","N":1}`, string(out.Data))
	require.Equal(t, "c1", out.Meta[record.LambdaKey("customer")], "partitionKeys feed !{partitionKeyFromLambda:customer}")
	require.Equal(t, "kept", out.Meta["query.x"], "earlier metadata stays")
	require.Equal(t, in[0].ID, out.ID)
	require.Equal(t, in[0].Seq, out.Seq)
	require.Equal(t, in[0].Shard, out.Shard)
	require.NotContains(t, in[0].Meta, record.LambdaKey("customer"), "the input's Meta is not modified")

	require.Equal(t, transform.Dropped, res[1].Status)
	require.Equal(t, transform.Failed, res[2].Status)
	require.ErrorIs(t, res[2].Err, ErrFailedByHandler)
	require.Equal(t, `{"CUSTOMER":"C2"}`, string(res[3].Out[0].Data))
}

func TestHTTP_EventCarriesTheContractFields(t *testing.T) {
	var got events.KinesisFirehoseEvent
	srv := newFront(t, func(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
		got = ev
		return passHandler(ctx, ev)
	})
	p := newHTTP(t, srv.URL, cfg())
	in := recs("a", "b")
	in[1].ID = in[0].ID // two sub-records of one aggregate
	_, err := p.Process(t.Context(), in)
	require.NoError(t, err)

	require.NotEmpty(t, got.InvocationID)
	require.Equal(t, cfg().DeliveryStreamARN, got.DeliveryStreamArn)
	require.Equal(t, "us-east-1", got.Region)
	require.Len(t, got.Records, 2)
	r := got.Records[0]
	require.Equal(t, "id000", r.RecordID)
	require.Equal(t, "a", string(r.Data))
	require.Equal(t, arrived, r.ApproximateArrivalTimestamp.UTC())
	require.Equal(t, "shardId-000000000001", r.KinesisFirehoseRecordMetadata.ShardID)
	require.Equal(t, "pk0", r.KinesisFirehoseRecordMetadata.PartitionKey)
	require.Equal(t, "100", r.KinesisFirehoseRecordMetadata.SequenceNumber)
	require.Equal(t, "id000.1", got.Records[1].RecordID, "record ids are unique within an invocation")
	require.EqualValues(t, 1, got.Records[1].KinesisFirehoseRecordMetadata.SubsequenceNumber)
}

// respond serves a fixed response body (with the event's ids substituted
// for ID0, ID1, ...).
func respond(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		require.NoError(t, json.NewDecoder(r.Body).Decode(&ev))
		out := body
		for i, rec := range ev.Records {
			out = strings.ReplaceAll(out, "ID"+strconv.Itoa(i), rec.RecordID)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHTTP_BadResponses(t *testing.T) {
	ok := func(id string) string { return `{"recordId":"` + id + `","result":"Ok","data":"eA=="}` }
	for _, tc := range []struct {
		name, body string
		status     int
		callErr    error  // the whole call fails (retried)
		callMsg    string // ... with this in its message
		recordErr  error  // every record fails (not retried)
	}{
		{name: "500", status: 500, body: "boom", callMsg: "500 Internal Server Error: boom"},
		{name: "not JSON", status: 200, body: "<html>", callErr: ErrJSONProcessing},
		{name: "trailing data", status: 200, body: `{"records":[` + ok("ID0") + `,` + ok("ID1") + `]} {}`, callErr: ErrJSONProcessing},
		{name: "function error", status: 200, body: `{"errorMessage":"table not found","errorType":"errorString"}`, callErr: ErrFunction},
		{name: "missing id", status: 200, body: `{"records":[` + ok("ID0") + `]}`, recordErr: ErrMissingID},
		{name: "duplicated id", status: 200, body: `{"records":[` + ok("ID0") + `,` + ok("ID0") + `,` + ok("ID1") + `]}`, recordErr: ErrDuplicatedID},
		{name: "unknown id", status: 200, body: `{"records":[` + ok("ID0") + `,` + ok("nope") + `]}`, recordErr: ErrMissingID},
		{name: "bad base64", status: 200, body: `{"records":[{"recordId":"ID0","result":"Ok","data":"!!"},` + ok("ID1") + `]}`, callErr: ErrJSONProcessing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newHTTP(t, respond(t, tc.status, tc.body), cfg())
			res, err := p.Process(t.Context(), recs("a", "b"))
			switch {
			case tc.callErr != nil:
				require.ErrorIs(t, err, tc.callErr)
			case tc.callMsg != "":
				require.ErrorContains(t, err, tc.callMsg)
			default:
				require.NoError(t, err)
				require.Len(t, res, 2)
				for _, r := range res {
					require.Equal(t, transform.Failed, r.Status)
					require.ErrorIs(t, r.Err, tc.recordErr)
				}
			}
		})
	}
}

func TestHTTP_PerRecordProblems(t *testing.T) {
	p := newHTTP(t, respond(t, 200, `{"records":[{"recordId":"ID0","result":"Ok"},{"recordId":"ID1","result":"Maybe","data":""},{"recordId":"ID2","result":"Ok","data":""}]}`), cfg())
	res, err := p.Process(t.Context(), recs("a", "b", "c"))
	require.NoError(t, err)
	require.Equal(t, transform.Failed, res[0].Status, "Ok without data")
	require.ErrorContains(t, res[0].Err, "no data")
	require.Equal(t, transform.Failed, res[1].Status, "an unknown result")
	require.ErrorContains(t, res[1].Err, `"Maybe"`)
	require.Equal(t, transform.Ok, res[2].Status, "empty data is data")
	require.Empty(t, res[2].Out[0].Data)
}

func TestHTTP_TimeoutFailsTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server sees the client leave
		<-r.Context().Done()               // never answers in time
	}))
	t.Cleanup(srv.Close)
	c := cfg()
	c.Timeout = 50 * time.Millisecond
	p := newHTTP(t, srv.URL, c)
	_, err := p.Process(t.Context(), recs("a"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestHTTP_SplitsBatchesUnderThePayloadLimit(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		mu.Lock()
		sizes = append(sizes, len(body))
		mu.Unlock()
		out, err := newHandlerBytes(body)
		require.NoError(t, err)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	p := newHTTP(t, srv.URL, cfg())

	big := strings.Repeat("x", 700<<10) // 700 KiB: about 933 KiB of base64
	var data []string
	for range 20 {
		data = append(data, big)
		n++
	}
	data = append(data, strings.Repeat("y", MaxPayload)) // cannot fit any event
	res, err := p.Process(t.Context(), recs(data...))
	require.NoError(t, err)
	for i := range n {
		require.Equal(t, transform.Ok, res[i].Status)
		require.Equal(t, big, string(res[i].Out[0].Data))
	}
	require.Equal(t, transform.Failed, res[n].Status)
	require.ErrorIs(t, res[n].Err, ErrTooLarge)
	require.Greater(t, len(sizes), 2, "20 records of 700 KiB need several invocations")
	for _, s := range sizes {
		require.LessOrEqual(t, s, MaxPayload)
	}
}

// newHandlerBytes runs passHandler on a raw event.
func newHandlerBytes(event []byte) ([]byte, error) {
	var ev events.KinesisFirehoseEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, err
	}
	resp, err := passHandler(context.Background(), ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func TestHTTP_FunctionErrorFromTheHandlerLibrary(t *testing.T) {
	p := newHTTP(t, newFront(t, failingHandler).URL, cfg())
	_, err := p.Process(t.Context(), recs("a"))
	require.ErrorIs(t, err, ErrFunction)
	require.ErrorContains(t, err, "table not found")
}

func TestNewHTTP_RejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "localhost:9000", "ftp://x/y", "http://"} {
		_, err := NewHTTP(HTTPConfig{URL: u})
		require.Error(t, err, u)
	}
}

func TestDecode_OkRecordsKeepTheirInputIdentity(t *testing.T) {
	in := recs("a")
	res := make([]transform.Result, 1)
	body := []byte(`{"records":[{"recordId":"id000","result":"Ok","data":"` + "Yg==" + `","metadata":{"partitionKeys":{"k":"v"}}}]}`)
	require.NoError(t, Decode(body, in, []string{"id000"}, res))
	require.Equal(t, "b", string(res[0].Out[0].Data))
	require.Equal(t, "v", res[0].Out[0].Meta[record.LambdaKey("k")])
	require.Equal(t, in[0].Arrived, res[0].Out[0].Arrived)
	require.True(t, bytes.Equal(in[0].Data, []byte("a")))
}

// Firehose's Iceberg routing (metadata.otfMetadata) travels in Meta for
// the iceberg sink, every field set (an empty one replaces what an
// earlier processor said); the input's Meta is not modified.
func TestDecode_OTFMetadataRoutesToAnIcebergTable(t *testing.T) {
	in := recs("a", "b")
	res := make([]transform.Result, 2)
	body := []byte(`{"records":[` +
		`{"recordId":"id000","result":"Ok","data":"Yg==","metadata":{"otfMetadata":{"destinationDatabaseName":"db1","destinationTableName":"t1","operation":"insert"}}},` +
		`{"recordId":"id001","result":"Ok","data":"Yw==","metadata":{"otfMetadata":{"destinationDatabaseName":"db2","destinationTableName":"t2"}}}]}`)
	require.NoError(t, Decode(body, in, []string{"id000", "id001"}, res))
	m0, m1 := res[0].Out[0].Meta, res[1].Out[0].Meta
	require.Equal(t, "db1", m0[record.OTFDatabase])
	require.Equal(t, "t1", m0[record.OTFTable])
	require.Equal(t, "insert", m0[record.OTFOperation])
	require.Equal(t, "t2", m1[record.OTFTable])
	require.Empty(t, m1[record.OTFOperation], "no operation: insert")
	require.Equal(t, "kept", m1["query.x"])
	require.NotContains(t, in[0].Meta, record.OTFTable)
}
