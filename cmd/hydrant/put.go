package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/hydrant-io/hydrant/ingest/api"
)

// Firehose's PutRecordBatch limits, which put batches under.
const (
	putMaxRecords     = 500
	putMaxBatchBytes  = 4 << 20
	putMaxRecordBytes = 1_024_000
)

// cmdPut sends NDJSON lines as records: through the Firehose API
// (PutRecordBatch, retrying failed records), or, with
// --partition-key-field, through the batch door, which derives each
// record's partition key from that field (the Firehose API has no keys).
func cmdPut(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("put", "put --stream NAME [--endpoint URL] [--partition-key-field F] [FILE...]", stderr)
	stream := fs.String("stream", "", "pipeline (delivery stream) to send to (required)")
	endpoint := fs.String("endpoint", envOr("HYDRANT_ENDPOINT", "http://127.0.0.1:4575"), "server URL [HYDRANT_ENDPOINT]")
	keyField := fs.String("partition-key-field", "", "top-level JSON field whose value is each record's partition key (sends through the batch door)")
	apiKey := fs.String("api-key", envOr("HYDRANT_API_KEY", ""), "API key for the batch door when server.auth.api_keys is set [HYDRANT_API_KEY]")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *stream == "" {
		return fmt.Errorf("%w: put needs --stream NAME", errUsage)
	}
	client := api.NewClient(*endpoint, api.WithAPIKey(*apiKey))
	p := &putter{ctx: ctx, client: client, stream: *stream, keyField: *keyField,
		progress: newProgress(stderr), start: time.Now()}
	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		if err := p.file(name, stdin); err != nil {
			p.progress.done()
			return err
		}
	}
	if err := p.flush(); err != nil {
		p.progress.done()
		return err
	}
	p.progress.done()
	fmt.Fprintf(stdout, "sent %d records (%.1f MB) in %s, failed %d\n",
		p.sent, float64(p.bytes)/1e6, time.Since(p.start).Round(time.Millisecond), p.failed)
	if p.failed > 0 {
		return errReported
	}
	return nil
}

// putter batches lines and sends them.
type putter struct {
	ctx      context.Context
	client   *api.Client
	stream   string
	keyField string
	progress *progress
	start    time.Time

	batch      [][]byte
	batchBytes int
	sent       int
	failed     int
	bytes      int64
}

func (p *putter) file(name string, stdin io.Reader) error {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			b = bytes.TrimRight(b, "\r\n")
			switch {
			case len(bytes.TrimSpace(b)) == 0:
			case len(b) > putMaxRecordBytes:
				fmt.Fprintf(p.progress.w, "%s:%d: record of %d bytes is over the %d-byte limit; not sent\n", name, line, len(b), putMaxRecordBytes)
				p.failed++
			default:
				if len(p.batch) == putMaxRecords || p.batchBytes+len(b) > putMaxBatchBytes {
					if err := p.flush(); err != nil {
						return err
					}
				}
				p.batch = append(p.batch, b)
				p.batchBytes += len(b)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
}

// flush sends the current batch; per-record failures are counted, a
// request that cannot be sent at all stops put.
func (p *putter) flush() error {
	if len(p.batch) == 0 {
		return nil
	}
	n, size := len(p.batch), p.batchBytes
	failed := 0
	if p.keyField == "" {
		_, err := p.client.PutRecordBatch(p.ctx, p.stream, p.batch)
		var be *api.BatchError
		switch {
		case errors.As(err, &be):
			failed = len(be.Failed)
		case err != nil:
			return fmt.Errorf("put record batch: %w", err)
		}
	} else {
		body := bytes.Join(p.batch, []byte("\n"))
		out, err := p.client.PutRecords(p.ctx, p.stream, url.Values{"partition_key_field": {p.keyField}}, "application/x-ndjson", body)
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		failed = out.Failed
	}
	p.sent += n - failed
	p.failed += failed
	p.bytes += int64(size)
	p.batch, p.batchBytes = p.batch[:0], 0
	p.progress.update(p.sent, p.bytes, time.Since(p.start))
	return nil
}
