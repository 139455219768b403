package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
)

// requestTimeout bounds one request; a killed server resets its
// connections at once, so this only guards against a hang.
const requestTimeout = 15 * time.Second

// ledger is what the producers sent and what was acknowledged. Ids are
// "w<worker>-<n>" with n counting from 0 per worker, so acknowledgement
// is a bool per (worker, n).
type ledger struct {
	mu       sync.Mutex
	acked    [][]bool // by worker, by n
	ackBytes int64

	sent       atomic.Int64
	requests   atomic.Int64
	okRequests atomic.Int64
	unavail    atomic.Int64 // 503 answers
	retryAfter atomic.Int64 // of those, with a Retry-After header
	failedRecs atomic.Int64 // PutRecordBatch entries with an ErrorCode
	otherErrs  atomic.Int64 // refused connections, resets, other statuses
}

func newLedger(workers int) *ledger {
	return &ledger{acked: make([][]bool, workers)}
}

// ack marks record n of worker w acknowledged.
func (l *ledger) ack(w, n, size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.acked[w]) <= n {
		l.acked[w] = append(l.acked[w], false)
	}
	l.acked[w][n] = true
	l.ackBytes += int64(size)
}

// isAcked reports whether record n of worker w was acknowledged.
func (l *ledger) isAcked(w, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return w >= 0 && w < len(l.acked) && n >= 0 && n < len(l.acked[w]) && l.acked[w][n]
}

// totals returns the acknowledged records and bytes.
func (l *ledger) totals() (records, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.acked {
		for _, a := range w {
			if a {
				records++
			}
		}
	}
	return records, l.ackBytes
}

// each calls fn for every acknowledged record.
func (l *ledger) each(fn func(w, n int)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for w, ns := range l.acked {
		for n, a := range ns {
			if a {
				fn(w, n)
			}
		}
	}
}

// recordID is the id of record n of worker w.
func recordID(w, n int) string { return fmt.Sprintf("w%d-%09d", w, n) }

// errBadID is a record id recordID did not make.
var errBadID = errors.New("bad record id")

// parseID is recordID's inverse.
func parseID(id string) (w, n int, err error) {
	ws, ns, ok := strings.Cut(strings.TrimPrefix(id, "w"), "-")
	if !ok || !strings.HasPrefix(id, "w") {
		return 0, 0, fmt.Errorf("%w: %q", errBadID, id)
	}
	if w, err = strconv.Atoi(ws); err != nil || w < 0 {
		return 0, 0, fmt.Errorf("%w: %q", errBadID, id)
	}
	if n, err = strconv.Atoi(ns); err != nil || n < 0 || n > 1<<32 {
		return 0, 0, fmt.Errorf("%w: %q", errBadID, id)
	}
	return w, n, nil
}

// producer sends batches through one door until ctx ends.
type producer struct {
	w      int
	stream string
	batch  int
	pad    string
	led    *ledger
	addr   string
	client *http.Client
	fh     *firehose.Client
	next   int
}

// run sends until ctx ends; a failed request is retried with new ids
// after a short pause (the server may be down between a kill and its
// restart).
func (p *producer) run(ctx context.Context) {
	for ctx.Err() == nil {
		first := p.next
		recs := make([][]byte, p.batch)
		for i := range recs {
			recs[i] = fmt.Appendf(nil, `{"id":%q,"pad":%q}`, recordID(p.w, first+i), p.pad)
		}
		p.next += p.batch
		p.led.sent.Add(int64(p.batch))
		p.led.requests.Add(1)
		var ok bool
		if p.w%2 == 0 {
			ok = p.putRecordBatch(ctx, first, recs)
		} else {
			ok = p.putNDJSON(ctx, first, recs)
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func (p *producer) putRecordBatch(ctx context.Context, first int, recs [][]byte) bool {
	in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(p.stream)}
	for _, r := range recs {
		in.Records = append(in.Records, types.Record{Data: r})
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := p.fh.PutRecordBatch(ctx, in)
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ServiceUnavailableException" {
			p.led.unavail.Add(1)
			var re *awshttp.ResponseError
			if errors.As(err, &re) && re.Response != nil && re.Response.Header.Get("Retry-After") != "" {
				p.led.retryAfter.Add(1)
			}
		} else {
			p.led.otherErrs.Add(1)
		}
		return false
	}
	if len(out.RequestResponses) != len(recs) {
		p.led.otherErrs.Add(1)
		return false
	}
	p.led.okRequests.Add(1)
	all := true
	for i, r := range out.RequestResponses {
		if r.ErrorCode != nil {
			p.led.failedRecs.Add(1)
			all = false
			continue
		}
		p.led.ack(p.w, first+i, len(recs[i]))
	}
	return all
}

func (p *producer) putNDJSON(ctx context.Context, first int, recs [][]byte) bool {
	body := append(bytes.Join(recs, []byte("\n")), '\n')
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	url := "http://" + p.addr + "/v1/streams/" + p.stream + "/records"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		p.led.otherErrs.Add(1)
		return false
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := p.client.Do(req)
	if err != nil {
		p.led.otherErrs.Add(1)
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		// The status was sent before the body: a 200 is an acknowledgement
		// even if the connection broke afterwards, but count it as unknown
		// to stay conservative.
		p.led.otherErrs.Add(1)
		return false
	case resp.StatusCode == http.StatusOK:
		p.led.okRequests.Add(1)
		for i, r := range recs {
			p.led.ack(p.w, first+i, len(r))
		}
		return true
	case resp.StatusCode == http.StatusServiceUnavailable:
		p.led.unavail.Add(1)
		if resp.Header.Get("Retry-After") != "" {
			p.led.retryAfter.Add(1)
		}
	default:
		p.led.otherErrs.Add(1)
	}
	return false
}

// startLoad runs workers producers until the returned stop is called.
func startLoad(ctx context.Context, o options, stream, addr string, led *ledger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	pad := strings.Repeat("x", o.pad)
	for w := range o.workers {
		p := &producer{
			w: w, stream: stream, batch: o.batch, pad: pad, led: led, addr: addr,
			client: &http.Client{Timeout: requestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 2}},
		}
		p.fh = firehose.New(firehose.Options{
			Region:           "us-east-1",
			BaseEndpoint:     aws.String("http://" + addr),
			Credentials:      credentials.NewStaticCredentialsProvider("soak", "soak", ""),
			HTTPClient:       p.client,
			RetryMaxAttempts: 1,
		})
		wg.Go(func() { p.run(ctx) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
