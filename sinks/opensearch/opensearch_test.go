package opensearch_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/opensearch"
	"github.com/hydrant-io/hydrant/sinks/opensearch/searchtest"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Firehose's rotation table: myindex at 2016-02-25T13:00:00Z.
func TestIndexName_FirehoseRotation(t *testing.T) {
	at := time.Date(2016, 2, 25, 13, 0, 0, 0, time.UTC)
	for rot, want := range map[string]string{
		opensearch.RotateNone:  "myindex",
		opensearch.RotateHour:  "myindex-2016-02-25-13",
		opensearch.RotateDay:   "myindex-2016-02-25",
		opensearch.RotateWeek:  "myindex-2016-w08",
		opensearch.RotateMonth: "myindex-2016-02",
	} {
		require.Equal(t, want, opensearch.IndexName("myindex", rot, at), rot)
	}
	// Arrival times are read in UTC.
	require.Equal(t, "i-2016-02-25", opensearch.IndexName("i", opensearch.RotateDay, at.In(time.FixedZone("x", -14*3600))))
}

func TestParseBulkResponse(t *testing.T) {
	items, err := opensearch.ParseBulkResponse([]byte(`{"took":3,"errors":true,"items":[
		{"index":{"_index":"a","status":201,"result":"created"}},
		{"index":{"_index":"a","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n]"}}},
		{"create":{"_index":"a","status":429,"error":"too many"}}]}`))
	require.NoError(t, err)
	require.Equal(t, []opensearch.Item{
		{Status: 201}, {Status: 400, Error: "mapper_parsing_exception: failed to parse field [n]"}, {Status: 429, Error: "too many"},
	}, items)
	for _, bad := range []string{``, `[]`, `{"items":[{"index":{},"create":{}}]}`, `{"items":"x"}`} {
		_, err := opensearch.ParseBulkResponse([]byte(bad))
		require.Error(t, err, bad)
	}
}

func FuzzParseBulkResponse(f *testing.F) {
	f.Add([]byte(`{"errors":false,"items":[{"index":{"status":201}}]}`))
	f.Add([]byte(`{"items":[{"index":{"status":400,"error":{"type":"t","reason":"r"}}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := opensearch.ParseBulkResponse(body)
		if err == nil && items == nil && !strings.Contains(string(body), "items") {
			return
		}
		_ = items
	})
}

// The sink against a cluster that follows OpenSearch's documented _bulk
// semantics (searchtest.Fake), through a sinktest.Proxy: the conformance
// suite, with document ids (so a retry overwrites).
func TestSinktest_OpenSearchSemantics(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			fc := searchtest.NewFake()
			srv := httptest.NewServer(fc)
			t.Cleanup(srv.Close)
			proxy := sinktest.NewProxy(t, strings.TrimPrefix(srv.URL, "http://"))
			return &sinktest.Target{
				Sink:  newSink(t, "http://"+proxy.Addr(), opensearch.Config{Index: "events", Rotation: opensearch.RotateDay, DocumentID: docID}),
				Read:  func(t *testing.T) []sinktest.Delivered { return readFake(fc) },
				Break: proxy.Break,
			}
		},
		// A field whose type differs from the index's mapping: refused by
		// the cluster, item by item.
		Bad: func(r *record.Record) {
			r.Data = []byte(`{"id":"` + r.ID + `","shard":"` + string(r.Shard) + `","seq":"not a number","sub":0,"body":"x"}`)
		},
		BadType:     record.OpenSearchFailed,
		ExactlyOnce: true,
		Skip: map[string]string{
			"Misconfigured": "no setting of an OpenSearch destination is refused by every write; a bad index name is caught by the config",
		},
	})
}

// docID makes a document's id from what sinktest.Payload carries: the
// source record's id and the sub-record number, unique per record.
const docID = `.id + "-" + (.sub | tostring)`

func newSink(t *testing.T, addr string, cfg opensearch.Config) *opensearch.Sink {
	t.Helper()
	c, err := opensearch.NewClient(opensearch.ClientConfig{Addresses: []string{addr}, Timeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	s, err := opensearch.New(c, cfg)
	require.NoError(t, err)
	return s
}

func readFake(fc *searchtest.Fake) []sinktest.Delivered {
	var out []sinktest.Delivered
	for where, d := range fc.All() {
		out = append(out, sinktest.Delivered{Data: d, Where: where})
	}
	return out
}

// Items answered 429 are retried; refused ones (4xx) fail alone and
// permanently; the rest are delivered; a batch larger than MaxBulkBytes
// goes in several requests.
func TestWrite_ItemResultsAndSplitting(t *testing.T) {
	fc := searchtest.NewFake()
	srv := httptest.NewServer(fc)
	defer srv.Close()
	s := newSink(t, srv.URL, opensearch.Config{Index: "i", DocumentID: ".k", MaxBulkBytes: 200})
	b := &record.Batch{Pipeline: "p", Destination: "d", Shard: "s", Records: []record.Record{
		{Data: []byte(`{"k":"a","n":1}`)}, {Data: []byte(`{"k":"b","n":"x"}`)}, {Data: []byte("{\n \"k\": \"c\",\n \"n\": 3\n}")},
		{Data: []byte(`not json`)}, {Data: []byte(`{"k":{"o":1},"n":5}`)}, {Data: []byte(`{"k":"f","n":6}`)},
	}}
	fc.Types["i"] = map[string]string{"n": "float64"} // the index maps n as a number
	fc.RejectNext = 1                                 // the first item
	err := s.Write(t.Context(), b)
	var be *sinks.BatchError
	require.True(t, errors.As(err, &be), "%v", err)
	require.Len(t, be.Failed, 4)
	require.False(t, sinks.IsPermanent(be.Failed[0]), "429 is retried")
	for _, i := range []int{1, 3, 4} {
		require.True(t, sinks.IsPermanent(be.Failed[i]), "record %d: %v", i, be.Failed[i])
		require.Equal(t, record.OpenSearchFailed, record.ErrorType(be.Failed[i], ""))
	}
	require.ErrorContains(t, be.Failed[1], "mapper_parsing_exception")
	require.ErrorContains(t, be.Failed[3], "not a JSON document")
	require.ErrorContains(t, be.Failed[4], "document_id")
	docs := fc.All()
	require.Len(t, docs, 2)
	require.JSONEq(t, `{"k":"c","n":3}`, string(docs["i/c"]), "a pretty-printed record is sent as one line")
	require.Greater(t, fc.Requests, 1, "split by MaxBulkBytes")

	// The retry carries the 429'd record alone.
	retry := *b
	retry.Records = b.Records[:1]
	require.NoError(t, s.Write(t.Context(), &retry))
	require.Len(t, fc.All(), 3)
}
