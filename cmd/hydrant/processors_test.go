package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/require"
)

// teamHandler is a Firehose transformation Lambda: it upper-cases each
// record and partitions by its "team" field; records with "fail":true are
// answered ProcessingFailed.
func teamHandler(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	var out events.KinesisFirehoseResponse
	for _, r := range ev.Records {
		var doc struct {
			Team string
			Fail bool
		}
		_ = json.Unmarshal(r.Data, &doc)
		rr := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateOk,
			Data: append(bytes.ToUpper(r.Data), '\n')}
		rr.Metadata.PartitionKeys = map[string]string{"team": doc.Team}
		if doc.Fail {
			rr = events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateProcessingFailed}
		}
		out.Records = append(out.Records, rr)
	}
	return out, nil
}

// serveLambda fronts a handler like the Lambda runtime interface emulator.
func serveLambda(t *testing.T, handler any) string {
	t.Helper()
	h := awslambda.NewHandler(handler)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, err := h.Invoke(r.Context(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// lakeFiles returns the content of every file under root whose path
// contains part, keyed by path relative to root.
func lakeFiles(t *testing.T, root, part string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(path, part) {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		out[rel] = string(b)
		return err
	})
	require.NoError(t, err)
	return out
}

func TestLambdaProcessor_TransformsPartitionsAndBacksUpFailures(t *testing.T) {
	dir := t.TempDir()
	a := testApp(t, dir, `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    processors:
      - { type: lambda, url: `+serveLambda(t, teamHandler)+` }
    destinations:
      - name: lake
        type: directory
        store: local
        prefix: "team=!{partitionKeyFromLambda:team}/"
        error_output_prefix: "errors/!{firehose:error-output-type}/"
        buffer: { size: 1MiB, interval: 0s }
`)
	startDelivery(t, a)
	h := a.handler()
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf(`{"team":"t%d","i":%d}`, i%3, i))
	}
	lines = append(lines, `{"team":"t0","fail":true,"i":100}`, `{"team":"t1","fail":true,"i":101}`)
	putLines(t, h, "events", lines)
	waitScrape(t, h, map[string]string{
		`hydrant_delivery_records_total{destination="lake",pipeline="events",type="directory"}`:                    "12",
		`hydrant_backup_records_total{destination="lake",error_output_type="processing-failed",pipeline="events"}`: "2",
	})

	lake := filepath.Join(dir, "lake")
	for team := range 3 {
		var got []string
		for _, body := range lakeFiles(t, lake, fmt.Sprintf("team=t%d/", team)) {
			got = append(got, strings.Split(strings.TrimSpace(body), "\n")...)
		}
		var want []string
		for i := team; i < 12; i += 3 {
			want = append(want, fmt.Sprintf(`{"TEAM":"T%d","I":%d}`, team, i))
		}
		require.ElementsMatch(t, want, got, "team t%d", team)
	}

	var raw []string
	for _, body := range lakeFiles(t, lake, "errors/processing-failed/") {
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			var line struct {
				RawData      string `json:"rawData"`
				ErrorMessage string `json:"errorMessage"`
			}
			require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
			data, err := base64.StdEncoding.DecodeString(line.RawData)
			require.NoError(t, err)
			raw = append(raw, string(data))
			require.Contains(t, line.ErrorMessage, "ProcessingFailed")
		}
	}
	require.ElementsMatch(t, lines[12:], raw, "the backup holds the records as they were sent")
}

func TestLambdaProcessor_A500AfterItsRetriesIsProcessingFailed(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "the handler is down", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	a := testApp(t, dir, `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    stream: { shards: 1 }
    processors:
      - { type: lambda, url: `+srv.URL+`, retries: 1 }
    destinations:
      - name: lake
        type: directory
        store: local
        error_output_prefix: "errors/!{firehose:error-output-type}/"
        buffer: { size: 1MiB, interval: 0s }
`)
	startDelivery(t, a)
	h := a.handler()
	putLines(t, h, "events", []string{`{"n":1}`, `{"n":2}`, `{"n":3}`})
	waitScrape(t, h, map[string]string{
		`hydrant_backup_records_total{destination="lake",error_output_type="processing-failed",pipeline="events"}`: "3",
		`hydrant_delivery_records_total{destination="lake",pipeline="events",type="directory"}`:                    "0",
	})
	require.Zero(t, calls.Load()%2, "every invocation was tried twice (retries: 1)")
	require.Equal(t, fmt.Sprint(calls.Load()/2), scrape(t, h, `hydrant_execute_processing_calls_total{destination="lake",pipeline="events",result="failure"}`))
	files := lakeFiles(t, filepath.Join(dir, "lake"), "errors/processing-failed/")
	require.NotEmpty(t, files)
	for _, body := range files {
		require.Contains(t, body, "500 Internal Server Error: the handler is down")
	}
}
