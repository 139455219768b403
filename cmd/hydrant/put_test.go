package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testServer runs the app's doors (no delivery) on httptest.
func testServer(t *testing.T) (*app, string) {
	t.Helper()
	a := testApp(t, t.TempDir(), `server: { data_dir: %[1]s }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    destinations: [{ name: lake, type: directory, store: local, buffer: { size: 1MiB, interval: 0s } }]
`)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return a, srv.URL
}

func TestPut_SendsEveryLineInBatches(t *testing.T) {
	a, url := testServer(t)
	var in strings.Builder
	for i := range 1234 {
		fmt.Fprintf(&in, `{"n":%d}`+"\n", i)
		if i%100 == 0 {
			in.WriteString("\n") // blank lines are skipped
		}
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(in.String()), 0o644))

	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"put", "--stream", "events", "--endpoint", url, file}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	require.Contains(t, out.String(), "sent 1234 records")
	require.Contains(t, out.String(), "failed 0")
	require.Equal(t, uint64(1234), a.pipelines[0].stream.Stats().AppendedRecords)

	// From stdin, through the batch door with partition keys.
	out.Reset()
	code = run(t.Context(), []string{"put", "--stream", "events", "--endpoint", url, "--partition-key-field", "n"},
		strings.NewReader("{\"n\":1}\n{\"n\":2}\n"), &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	require.Contains(t, out.String(), "sent 2 records")
	require.Equal(t, uint64(1236), a.pipelines[0].stream.Stats().AppendedRecords)
}

func TestPut_Errors(t *testing.T) {
	_, url := testServer(t)
	var out, errOut bytes.Buffer
	require.Equal(t, 2, run(t.Context(), []string{"put"}, strings.NewReader(""), &out, &errOut), "no --stream")
	errOut.Reset()
	code := run(t.Context(), []string{"put", "--stream", "nope", "--endpoint", url}, strings.NewReader("{}\n"), &out, &errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "ResourceNotFoundException")

	big := strings.Repeat("x", putMaxRecordBytes+1)
	out.Reset()
	code = run(t.Context(), []string{"put", "--stream", "events", "--endpoint", url}, strings.NewReader("{}\n"+big+"\n"), &out, &errOut)
	require.Equal(t, 1, code, "a record over the limit is reported and counted")
	require.Contains(t, out.String(), "sent 1 records")
	require.Contains(t, out.String(), "failed 1")
}

func TestBench_SendsWaitsAndReports(t *testing.T) {
	a, url := testServer(t)
	startDelivery(t, a)

	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"bench", "--endpoint", url, "--records", "2500", "--size", "200", "--batch", "100",
		"--concurrency", "4", "--door", "rest"}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	require.Contains(t, out.String(), "sent 2500 records of 200 bytes")
	require.Contains(t, out.String(), "end to end:")
	require.Regexp(t, `server peak RSS: \d+ MiB`, out.String())
	require.Equal(t, uint64(2500), a.pipelines[0].stream.Stats().AppendedRecords)

	require.Equal(t, 2, run(t.Context(), []string{"bench", "--door", "kafka"}, strings.NewReader(""), &out, &errOut))
}
