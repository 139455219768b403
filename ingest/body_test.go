package ingest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

// shortBody returns a few bytes, then fails as net/http does when the
// client stops before its Content-Length.
type shortBody struct{ sent bool }

func (b *shortBody) Read(p []byte) (int, error) {
	if b.sent {
		return 0, io.ErrUnexpectedEOF
	}
	b.sent = true
	return copy(p, `{"a":`), nil
}

// A body buffer grows with the data received: a request announcing 64 MiB
// that sends a few bytes does not make any door allocate 64 MiB.
func TestBody_NotPreallocatedFromContentLength(t *testing.T) {
	const announced = 64 << 20
	for _, path := range []string{"/", "/v1/streams/logs/records", "/v1/firehose-endpoint/logs"} {
		t.Run(path, func(t *testing.T) {
			s := newTestServer(t, newFake("logs"), func(o *Options) { o.Limits.MaxRequestBytes = announced })
			h := s.Handler()
			req := httptest.NewRequest(http.MethodPost, path, &shortBody{})
			req.ContentLength = announced
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Amz-Target", api.TargetPrefix+api.OpPutRecord)
			req.Header.Set("X-Amz-Firehose-Request-Id", "req-1")
			w := httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			h.ServeHTTP(w, req)
			runtime.ReadMemStats(&after)
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated from what Content-Length claims")
		})
	}
}

func TestReadBody_GrowsWithData(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 70_000, 1 << 20} {
		data := strings.Repeat("x", n)
		got, err := readBody(strings.NewReader(data), nil, int64(n), 1<<20)
		require.NoError(t, err)
		require.Equal(t, data, string(got))
		got, err = readBody(strings.NewReader(data), got, -1, 1<<20)
		require.NoError(t, err, "unknown length")
		require.Equal(t, data, string(got))
	}
	_, err := readBody(strings.NewReader(strings.Repeat("x", 11)), nil, -1, 10)
	require.ErrorIs(t, err, errBodyTooLarge)
	_, err = readBody(strings.NewReader("x"), nil, 11, 10)
	require.ErrorIs(t, err, errBodyTooLarge, "announced over the limit: refused before reading")
}

// A request of many records does not leave its record slice (120 bytes a
// record) in the request pool; PutRecordBatch-sized ones are kept.
func TestPutDecoder_ReleaseDropsHugeRecordSlices(t *testing.T) {
	var d putDecoder
	d.recs = make([]record.Record, 10, maxPooledRecords)
	d.release()
	require.Equal(t, maxPooledRecords, cap(d.recs), "kept for reuse")
	d.recs = make([]record.Record, 10_000)
	d.release()
	require.Zero(t, cap(d.recs), "dropped")
}
