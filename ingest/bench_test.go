package ingest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

// nopStreams accepts everything without storing it.
type nopStreams struct{}

func (nopStreams) Append(_ context.Context, _ string, recs []record.Record) error {
	for i := range recs {
		recs[i].ID, recs[i].Shard, recs[i].Seq = "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "shardId-000000000000", uint64(i)
	}
	return nil
}
func (nopStreams) List() []string { return []string{"bench"} }
func (nopStreams) Describe(string) (StreamInfo, error) {
	return StreamInfo{Name: "bench"}, nil
}

// benchLoopback posts body to path over a real loopback connection.
func benchLoopback(b *testing.B, path string, hdr map[string]string, body []byte, records int) {
	s, err := New(Options{Streams: nopStreams{}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := ts.Client()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*records)/sec, "records/s")
	b.ReportMetric(float64(b.N)*float64(len(body))/sec/(1<<20), "MiB/s")
}

func BenchmarkHandler_PutRecordBatch(b *testing.B) {
	benchLoopback(b, "/", map[string]string{"Content-Type": api.ContentType, "X-Amz-Target": api.TargetPrefix + api.OpPutRecordBatch},
		benchBatchBody(500, 1024), 500)
}

func BenchmarkHandler_PlainNDJSON(b *testing.B) {
	line := `{"user_id":"u123","event":"click","ts":1700000000,"props":{"page":"/home","ref":"` + strings.Repeat("x", 900) + `"}}`
	body := []byte(strings.Repeat(line+"\n", 500))
	benchLoopback(b, "/v1/streams/bench/records?partition_key_field=user_id", map[string]string{"Content-Type": "application/x-ndjson"}, body, 500)
}

func BenchmarkParseNDJSON(b *testing.B) {
	line := `{"user_id":"u123","event":"click","ts":1700000000,"props":{"page":"/home","ref":"` + strings.Repeat("x", 900) + `"}}`
	body := []byte(strings.Repeat(line+"\n", 500))
	s, _ := New(Options{Streams: nopStreams{}})
	st := &reqState{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		st.dec.recs = st.dec.recs[:0]
		if e := s.parseNDJSON(body, "user_id", st, func(int, string) { b.Fatal("bad line") }); e != nil {
			b.Fatal(e)
		}
	}
}
