package httpendpoint_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/httpendpoint"
	"github.com/hydrant-io/hydrant/sinks/sinktest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// testMaxBody makes CancelMidWrite's batch (1.5 MB) several requests.
const testMaxBody = 256 << 10

// bad makes a record that cannot fit a request: it fails alone,
// permanently, as http-endpoint-failed.
func bad(r *record.Record) { r.Data = sinktest.Payload(r, testMaxBody) }

// The sink against a receiver written from the protocol text, behind a
// sinktest.Proxy that Break cuts.
func TestSinktest_ProtocolReceiver(t *testing.T) {
	for _, enc := range []string{"none", "gzip"} {
		t.Run(enc, func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{
				Open: func(t *testing.T) *sinktest.Target {
					rc := newReceiver()
					rc.AccessKey = "secret"
					srv := httptest.NewServer(rc)
					t.Cleanup(srv.Close)
					proxy := sinktest.NewProxy(t, srv.Listener.Addr().String())
					s, err := httpendpoint.New(httpendpoint.Config{
						URL: "http://" + proxy.Addr() + "/firehose?x=1", AccessKey: "secret",
						ContentEncoding: enc, CommonAttributes: map[string]string{"team": "data"},
						MaxBodyBytes: testMaxBody, Timeout: 30 * time.Second,
					})
					require.NoError(t, err)
					return &sinktest.Target{
						Sink: s,
						Read: func(t *testing.T) []sinktest.Delivered {
							var out []sinktest.Delivered
							for _, r := range rc.Stored() {
								out = append(out, sinktest.Delivered{Data: r.Data, Where: "request " + r.RequestID})
							}
							return out
						},
						Break: proxy.Break,
					}
				},
				Bad:     bad,
				BadType: record.HTTPEndpointFailed,
				// A receiver whose body limit is below every request
				// answers 413: permanent.
				Misconfigured: func(t *testing.T) sinks.Sink {
					rc := newReceiver()
					rc.MaxBody = 64
					srv := httptest.NewServer(rc)
					t.Cleanup(srv.Close)
					s, err := httpendpoint.New(httpendpoint.Config{URL: srv.URL, ContentEncoding: enc})
					require.NoError(t, err)
					return s
				},
			})
		})
	}
}

// memStreams is the stream core behind an in-process ingest.Server: it
// keeps what the receiver door appends.
type memStreams struct {
	mu   sync.Mutex
	recs map[string][]record.Record
	seq  uint64
}

func (m *memStreams) Append(_ context.Context, stream string, recs []record.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[stream]; !ok {
		return fmt.Errorf("append to %q: %w", stream, record.ErrStreamNotFound)
	}
	for i := range recs {
		m.seq++
		recs[i].ID = fmt.Sprintf("id-%d", m.seq)
		recs[i].Shard = sinktest.Shard(0)
		recs[i].Seq = m.seq
		r := recs[i]
		r.Data = bytes.Clone(r.Data) // recs alias pooled buffers
		m.recs[stream] = append(m.recs[stream], r)
	}
	return nil
}

func (m *memStreams) List() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.recs {
		out = append(out, n)
	}
	return out
}

func (m *memStreams) Describe(stream string) (ingest.StreamInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[stream]; !ok {
		return ingest.StreamInfo{}, record.ErrStreamNotFound
	}
	return ingest.StreamInfo{Name: stream, VersionID: "1", Created: sinktest.Epoch}, nil
}

func (m *memStreams) stored(stream string) []record.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]record.Record(nil), m.recs[stream]...)
}

// noDedupe: the sink resends a batch (or part) with the same request id,
// but the receiver door appends every request it gets.
const noDedupe = "Hydrant's receiver door does not dedupe on X-Amz-Firehose-Request-Id: a repeated request is stored again"

// The sink against Hydrant's own receiver door
// (POST /v1/firehose-endpoint/{stream}) of an in-process ingest.Server,
// with an API key, behind a sinktest.Proxy.
func TestSinktest_HydrantReceiver(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) *sinktest.Target {
			streams := &memStreams{recs: map[string][]record.Record{"events": nil}}
			srv, err := ingest.New(ingest.Options{Streams: streams, APIKeys: []string{"k1"}})
			require.NoError(t, err)
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			proxy := sinktest.NewProxy(t, hs.Listener.Addr().String())
			s, err := httpendpoint.New(httpendpoint.Config{
				URL: "http://" + proxy.Addr() + "/v1/firehose-endpoint/events", AccessKey: "k1",
				ContentEncoding: "gzip", MaxBodyBytes: testMaxBody, Timeout: 30 * time.Second,
			})
			require.NoError(t, err)
			return &sinktest.Target{
				Sink: s,
				Read: func(t *testing.T) []sinktest.Delivered {
					var out []sinktest.Delivered
					for _, r := range streams.stored("events") {
						out = append(out, sinktest.Delivered{Data: r.Data, Where: r.ID})
					}
					return out
				},
				Break: proxy.Break,
			}
		},
		Bad:     bad,
		BadType: record.HTTPEndpointFailed,
		Skip: map[string]string{
			"SameBatchTwice":           noDedupe,
			"RetryOfSubset":            noDedupe,
			"RetryOfSubsetAcrossHours": noDedupe,
			"CancelMidWrite":           noDedupe,
			"Misconfigured":            "the door answers 413 only past 8 MiB (or max_request_bytes), and the protocol retries every other refusal",
		},
	})
}
