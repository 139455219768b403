//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

// Issue 11 (hardening): each finding seen through the real binary, tested
// through it. The in-process tests of the same fixes live next to the code
// (ingest, cmd/hydrant, sinks/directory, streams/wal).

// hardeningConfig is a whole configuration: server (listen, data_dir under
// dir, then serverExtra: more server: keys, indented by two spaces), a
// "local" directory store at dir/lake, and pipelines.
func hardeningConfig(t *testing.T, dir, addr, serverExtra, pipelines string) string {
	t.Helper()
	return writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
%sstores:
  local: { type: directory, path: %s }
pipelines:
%s`, addr, filepath.Join(dir, "data"), serverExtra, filepath.Join(dir, "lake"), pipelines))
}

// onePipeline is "events": one shard (so records are delivered in the
// order sent), one delimiter per record, delivered at once to dir/lake.
const onePipeline = `  - name: events
    stream: { shards: 1 }
    processors: [ { type: append_delimiter } ]
    destinations:
      - { name: lake, type: directory, store: local, buffer: { size: 1MiB, interval: 0s } }
`

// authResult is how a write was answered: 200, or a refusal's status and
// __type.
type authResult struct {
	status int
	typ    string
}

var accepted200 = authResult{status: http.StatusOK}

// Finding: every write door must be locked once server.auth names a
// credential, and a door whose kind of credential is not configured must
// refuse everything rather than stay open.
func TestHardening_AuthLocksEveryDoorPerCredentialKind(t *testing.T) {
	type sender func(t *testing.T, addr, data string) authResult
	raw := func(method, path string, header map[string]string, body func(data string) string) sender {
		return func(t *testing.T, addr, data string) authResult {
			resp, reply := do(t, newRequest(t, method, "http://"+addr+path, strings.NewReader(body(data)), header))
			if resp.StatusCode == http.StatusOK {
				return accepted200
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			require.NoError(t, json.Unmarshal(reply, &e), "a JSON error: %s", reply)
			require.NotEmpty(t, e.Message, string(reply))
			return authResult{resp.StatusCode, e.Type}
		}
	}
	with := func(base, extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range base {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	batch := func(header map[string]string) sender {
		return raw(http.MethodPut, "/v1/streams/events/records", with(map[string]string{"Content-Type": "application/x-ndjson"}, header),
			func(data string) string { return data + "\n" })
	}
	putRecord := func(header map[string]string) sender {
		return raw(http.MethodPost, "/", with(map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Firehose_20150804.PutRecord"}, header),
			func(data string) string {
				return fmt.Sprintf(`{"DeliveryStreamName":"events","Record":{"Data":%q}}`, base64.StdEncoding.EncodeToString([]byte(data)))
			})
	}
	receiver := func(header map[string]string) sender {
		return raw(http.MethodPost, "/v1/firehose-endpoint/events", with(map[string]string{"Content-Type": "application/json", "X-Amz-Firehose-Request-Id": "r-1"}, header),
			func(data string) string {
				return fmt.Sprintf(`{"requestId":"r-1","timestamp":1578090901599,"records":[{"data":%q}]}`, base64.StdEncoding.EncodeToString([]byte(data)))
			})
	}
	sdk := func(key, secret string) sender {
		return func(t *testing.T, addr, data string) authResult {
			fh := firehose.New(firehose.Options{
				Region:           "eu-west-1",
				BaseEndpoint:     aws.String("http://" + addr),
				Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
				RetryMaxAttempts: 1,
			})
			_, err := fh.PutRecord(t.Context(), &firehose.PutRecordInput{DeliveryStreamName: aws.String("events"), Record: &types.Record{Data: []byte(data)}})
			if err == nil {
				return accepted200
			}
			var ae smithy.APIError
			require.True(t, errors.As(err, &ae), "a Firehose error, not a transport one: %v", err)
			var re *awshttp.ResponseError
			require.True(t, errors.As(err, &re), "%v", err)
			return authResult{re.HTTPStatusCode(), ae.ErrorCode()}
		}
	}
	missing := authResult{http.StatusUnauthorized, "MissingAuthenticationTokenException"}
	badKey := authResult{http.StatusUnauthorized, "UnrecognizedClientException"}

	type call struct {
		name string
		send sender
		want authResult
	}
	cases := []struct {
		name  string
		auth  string
		calls []call
	}{
		{
			name: "aws_credentials only",
			auth: "    aws_credentials: [ { access_key_id: hydrant, secret_access_key: s3cret } ]\n",
			calls: []call{
				{"unsigned batch door", batch(nil), missing},
				{"unsigned receiver door", receiver(nil), missing},
				{"receiver door with the secret as access key", receiver(map[string]string{"X-Amz-Firehose-Access-Key": "s3cret"}), badKey},
				{"unsigned PutRecord", putRecord(nil), missing},
				{"PutRecord with the secret as API key", putRecord(map[string]string{"Authorization": "Bearer s3cret"}), badKey},
				{"PutRecord signed with a wrong secret", sdk("hydrant", "wrong"), authResult{http.StatusBadRequest, "InvalidSignatureException"}},
				{"PutRecord signed by an unknown key", sdk("nobody", "s3cret"), authResult{http.StatusBadRequest, "UnrecognizedClientException"}},
				{"PutRecord signed", sdk("hydrant", "s3cret"), accepted200},
			},
		},
		{
			name: "api_keys only",
			auth: "    api_keys: [ k-123 ]\n",
			calls: []call{
				{"unsigned PutRecord", putRecord(nil), missing},
				{"PutRecord with a wrong key", putRecord(map[string]string{"Authorization": "Bearer k-999"}), badKey},
				// No API key came: a signature is no credential here.
				{"PutRecord signed by SigV4", sdk("k-123", "k-123"), missing},
				{"unsigned batch door", batch(nil), missing},
				{"unsigned receiver door", receiver(nil), missing},
				{"receiver door with a wrong key", receiver(map[string]string{"X-Amz-Firehose-Access-Key": "k-999"}), badKey},
				{"PutRecord with the key", putRecord(map[string]string{"Authorization": "Bearer k-123"}), accepted200},
				{"batch door with the key", batch(map[string]string{"X-Api-Key": "k-123"}), accepted200},
				{"receiver door with the key", receiver(map[string]string{"X-Amz-Firehose-Access-Key": "k-123"}), accepted200},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, addr := t.TempDir(), freeAddr(t)
			cfg := hardeningConfig(t, dir, addr, "  auth:\n"+tc.auth, onePipeline)
			startHydrant(t, binary, cfg, addr)
			var delivered []string
			for i, c := range tc.calls {
				data := fmt.Sprintf(`{"call":%d}`, i)
				require.Equal(t, c.want, c.send(t, addr, data), c.name)
				if c.want == accepted200 {
					delivered = append(delivered, data)
				}
			}
			// One shard, delivered in order: a refused record stored before
			// the accepted ones would be delivered with them.
			requireExactlyLines(t, filepath.Join(dir, "lake"), delivered)
		})
	}
}

// gzipBomb is a small gzip body of {"records":[{},{},...]} inflating to
// about inflated bytes.
func gzipBomb(t *testing.T, inflated int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = io.WriteString(zw, `{"records":[{}`)
	require.NoError(t, err)
	chunk := []byte(strings.Repeat(",{}", 1<<15))
	for n := 0; n < inflated; n += len(chunk) {
		_, err = zw.Write(chunk)
		require.NoError(t, err)
	}
	_, err = io.WriteString(zw, `]}`)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// Finding: a compressed receiver body was inflated whole, and its empty
// records kept, so a few hundred kilobytes could take gigabytes.
func TestHardening_ReceiverGzipBombIsRefusedInBoundedMemory(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startHydrant(t, noraceBinary(t), hardeningConfig(t, dir, addr, "", onePipeline), addr)
	cases := []struct {
		name     string
		inflated int
	}{
		{"60 MB of {} past the 8 MiB limit", 60 << 20},
		{"6 MB of {} within the limit: two million empty records", 6 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := gzipBomb(t, tc.inflated)
			require.Less(t, len(body), 1<<20, "the compressed body is small: only inflating makes it big")
			before := srv.allocatedBytes(t)
			resp, reply := do(t, newRequest(t, http.MethodPost, "http://"+addr+"/v1/firehose-endpoint/events", bytes.NewReader(body), map[string]string{
				"Content-Type": "application/json", "Content-Encoding": "gzip", "X-Amz-Firehose-Request-Id": "bomb-1",
			}))
			t.Logf("answered %d: %s", resp.StatusCode, reply)
			require.GreaterOrEqual(t, resp.StatusCode, 400, string(reply))
			require.Less(t, resp.StatusCode, 500, string(reply))
			var e struct {
				RequestID string `json:"requestId"`
				Type      string `json:"__type"`
			}
			require.NoError(t, json.Unmarshal(reply, &e), string(reply))
			require.Equal(t, "bomb-1", e.RequestID, "the receiver protocol's shape")
			require.NotEmpty(t, e.Type)

			allocated := srv.allocatedBytes(t) - before
			peak := srv.peakRSS(t)
			t.Logf("peak RSS %.1f MiB, %.1f MiB allocated by the request", float64(peak)/(1<<20), allocated/(1<<20))
			require.Less(t, peak, int64(300<<20), "peak RSS must not grow with the inflated size or the record count")
			require.Less(t, allocated, float64(48<<20), "allocations are bounded by the 8 MiB limit")
			require.Equal(t, http.StatusOK, srv.readyz(), "the server still answers")
		})
	}
	require.Zero(t, getPipeline(t, addr, "events").Incoming.Records, "nothing of the bombs was stored")
}

// Finding: a partition key longer than a file name can be (NAME_MAX, 255
// bytes) was retried on a directory destination for the whole retry window,
// holding back the shard behind it.
func TestHardening_LongPartitionKeyGoesToBackupAtOnce(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	errs := filepath.Join(dir, "errors")
	cfg := writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  local: { type: directory, path: %s }
  errors: { type: directory, path: %s }
pipelines:
  - name: keyed
    stream: { shards: 1 }
    processors:
      - { type: jq_metadata, partition_keys: { k: .k } }
      - type: append_delimiter
    destinations:
      - name: lake
        type: directory
        store: local
        prefix: "k=!{partitionKeyFromQuery:k}/"
        buffer: { size: 1MiB, interval: 0s }
        retry: { duration: 1h }
        backup: { store: errors }
`, addr, filepath.Join(dir, "data"), filepath.Join(dir, "lake"), errs))
	startHydrant(t, binary, cfg, addr)

	long := fmt.Sprintf(`{"k":"%s","n":"long"}`, strings.Repeat("v", 300))
	short := `{"k":"a","n":"short"}`
	for _, l := range []string{long, short} {
		resp, body, err := putNDJSON(t.Context(), addr, "keyed", []string{l})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	}

	// Both within a minute, far inside the 1h retry window.
	requireExactlyLines(t, filepath.Join(dir, "lake"), []string{short})
	require.Len(t, readLake(t, filepath.Join(dir, "lake", "k=a")), 1, "the short record under its partition")
	var backups []backupLine
	waitFor(t, time.Minute, "the long-keyed record in the backup store", func() bool {
		backups = nil
		for _, o := range readLake(t, errs) {
			for _, l := range o.Lines {
				var bl backupLine
				require.NoError(t, json.Unmarshal(l, &bl), string(l))
				backups = append(backups, bl)
			}
		}
		return len(backups) > 0
	})
	require.Len(t, backups, 1)
	raw, err := base64.StdEncoding.DecodeString(backups[0].RawData)
	require.NoError(t, err)
	require.Equal(t, long, strings.TrimSpace(string(raw)))
	require.Equal(t, "lake", backups[0].Destination)
	require.NotEmpty(t, backups[0].ErrorMessage)
	t.Logf("backup: %s: %s", backups[0].ErrorCode, backups[0].ErrorMessage)
}

// Finding: request buffers were sized from Content-Length, and nothing cut a
// client that sent its body (or headers) slowly, so a few idle sockets could
// hold gigabytes and every connection for ever.
func TestHardening_SlowClientsAreCutAndCostLittle(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	// A request limit above the announced size, so that the 64 MiB
	// announcement is read (and must not be allocated up front).
	limits := "  limits: { read_timeout: 2s, max_request_bytes: 128MiB }\n"
	srv := startHydrant(t, noraceBinary(t), hardeningConfig(t, dir, addr, limits, onePipeline), addr)

	cases := []struct {
		name string
		send string
	}{
		{"announces 64 MiB and sends nothing", "PUT /v1/streams/events/records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: 67108864\r\n\r\n"},
		{"announces 64 MiB and sends a few bytes", "PUT /v1/streams/events/records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: 67108864\r\n\r\n{\"a\":"},
		{"sends half the headers", "PUT /v1/streams/events/records HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
	}
	before := srv.allocatedBytes(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const sockets = 10
			errs := make(chan error, sockets)
			var wg sync.WaitGroup
			for range sockets {
				wg.Go(func() {
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						errs <- err
						return
					}
					defer conn.Close()
					if _, err := io.WriteString(conn, tc.send); err != nil {
						errs <- err
						return
					}
					// The guard deadline is far above read_timeout and far
					// below the default (1m), which would fail this test.
					_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
					_, err = io.Copy(io.Discard, conn)
					if !isClosed(err) {
						errs <- fmt.Errorf("not closed by the server: %w", err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
		})
	}
	allocated := srv.allocatedBytes(t) - before
	peak := srv.peakRSS(t)
	t.Logf("peak RSS %.1f MiB, %.1f MiB allocated by the 30 connections", float64(peak)/(1<<20), allocated/(1<<20))
	require.Less(t, peak, int64(150<<20))
	require.Less(t, allocated, float64(64<<20), "20 sockets announcing 64 MiB each must not allocate it")
	require.Equal(t, http.StatusOK, srv.readyz())
	require.Zero(t, getPipeline(t, addr, "events").Incoming.Records)
}

// Findings: a web page could make a browser write (a no-preflight POST with
// a text/plain body) and, by DNS rebinding, reach a loopback server under a
// foreign name.
func TestHardening_BrowsersCannotWrite(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	startHydrant(t, binary, hardeningConfig(t, dir, addr, "", onePipeline), addr)
	batchURL := "http://" + addr + "/v1/streams/events/records"
	cases := []struct {
		name   string
		method string
		url    string
		host   string
		ctype  string
		status int
		typ    string
	}{
		{"PUT text/plain", http.MethodPut, batchURL, "", "text/plain", http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException"},
		{"POST text/plain", http.MethodPost, batchURL, "", "text/plain;charset=UTF-8", http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException"},
		{"POST form", http.MethodPost, batchURL, "", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException"},
		{"POST multipart", http.MethodPost, batchURL, "", "multipart/form-data; boundary=x", http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException"},
		{"POST without a type", http.MethodPost, batchURL, "", "", http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException"},
		{"foreign Host writing", http.MethodPut, batchURL, "evil.example", "application/x-ndjson", http.StatusForbidden, "AccessDeniedException"},
		{"foreign Host with the port", http.MethodPut, batchURL, "evil.example:" + strings.Split(addr, ":")[1], "application/x-ndjson", http.StatusForbidden, "AccessDeniedException"},
		{"foreign Host reading status", http.MethodGet, "http://" + addr + "/v1/pipelines", "evil.example", "", http.StatusForbidden, "AccessDeniedException"},
		{"foreign Host on health", http.MethodGet, "http://" + addr + "/readyz", "evil.example", "", http.StatusForbidden, "AccessDeniedException"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.method != http.MethodGet {
				body = strings.NewReader(fmt.Sprintf(`{"refused":%d}`, i) + "\n")
			}
			req := newRequest(t, tc.method, tc.url, body, nil)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, reply := do(t, req)
			requireErrorShape(t, resp, reply, tc.status, tc.typ)
		})
	}
	// The same door takes NDJSON from a loopback name; only it is delivered.
	ok := `{"accepted":true}`
	req := newRequest(t, http.MethodPost, batchURL, strings.NewReader(ok+"\n"), map[string]string{"Content-Type": "application/x-ndjson"})
	req.Host = "localhost"
	resp, reply := do(t, req)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(reply))
	requireExactlyLines(t, filepath.Join(dir, "lake"), []string{ok})
}

// logLine is the part of a JSON log line the tests read.
type logLine struct {
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	RequestID string `json:"request_id"`
}

// logsFor returns the log lines carrying request id id.
func logsFor(t *testing.T, logs, id string) []logLine {
	t.Helper()
	var out []logLine
	for l := range strings.SplitSeq(logs, "\n") {
		if !strings.Contains(l, id) {
			continue
		}
		var ll logLine
		require.NoError(t, json.Unmarshal([]byte(l), &ll), l)
		if ll.RequestID == id {
			out = append(out, ll)
		}
	}
	return out
}

// Finding: a refusal's request id, the one thing a client can quote, was not
// in the server's log.
func TestHardening_RefusalsAreLoggedWithTheClientsRequestID(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startHydrant(t, binary, hardeningConfig(t, dir, addr, "", onePipeline), addr, "--log-level", "debug")
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"batch door, unknown stream", func() *http.Request {
			return newRequest(t, http.MethodPut, "http://"+addr+"/v1/streams/nope/records", strings.NewReader(`{"a":1}`+"\n"), map[string]string{"Content-Type": "application/x-ndjson"})
		}},
		{"batch door, bad JSON", func() *http.Request {
			return newRequest(t, http.MethodPut, "http://"+addr+"/v1/streams/events/records", strings.NewReader(`{"a"`+"\n"), map[string]string{"Content-Type": "application/x-ndjson"})
		}},
		{"batch door, text/plain", func() *http.Request {
			return newRequest(t, http.MethodPut, "http://"+addr+"/v1/streams/events/records", strings.NewReader(`{"a":1}`), map[string]string{"Content-Type": "text/plain"})
		}},
		{"firehose door, bad JSON", func() *http.Request {
			return newRequest(t, http.MethodPost, "http://"+addr+"/", strings.NewReader(`{`), map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Firehose_20150804.PutRecord"})
		}},
		{"receiver door, bad body", func() *http.Request {
			return newRequest(t, http.MethodPost, "http://"+addr+"/v1/firehose-endpoint/events", strings.NewReader(`{"records":`), map[string]string{"Content-Type": "application/json"})
		}},
		{"host guard", func() *http.Request {
			r := newRequest(t, http.MethodGet, "http://"+addr+"/v1/pipelines", nil, nil)
			r.Host = "evil.example"
			return r
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.req())
			require.GreaterOrEqual(t, resp.StatusCode, 400, string(body))
			require.Less(t, resp.StatusCode, 500, string(body))
			id := resp.Header.Get("X-Amzn-Requestid")
			require.NotEmpty(t, id)
			var lines []logLine
			waitFor(t, 10*time.Second, "a log line with request id "+id, func() bool {
				lines = logsFor(t, srv.logs.String(), id)
				return len(lines) > 0
			})
			require.Len(t, lines, 1, "one log line per refusal")
			require.Equal(t, "DEBUG", lines[0].Level, "a 4xx is the client's mistake: debug")
			require.NotEmpty(t, lines[0].Msg)
		})
	}
}

// Finding: a full disk made the log's writes fail for good (500s until a
// restart, a torn frame left behind). Now producers get 503 with
// Retry-After, /readyz fails, and writes resume by themselves once there is
// room, with every acknowledged record delivered once.
func TestHardening_DiskFullIsWeatherOnARealTmpfs(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	mnt := filepath.Join(dir, "tmpfs")
	require.NoError(t, os.Mkdir(mnt, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	// Registered before the server starts: runs after it is killed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	// Most of the file system is a filler, freed later; the log gets a few MiB.
	filler := filepath.Join(mnt, "filler")
	require.NoError(t, os.WriteFile(filler, bytes.Repeat([]byte{'f'}, 18<<20), 0o644))

	cfg := writeHydrantConfig(t, dir, fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  local: { type: directory, path: %s }
pipelines:
%s`, addr, filepath.Join(mnt, "data"), filepath.Join(dir, "lake"), onePipeline))
	srv := startHydrant(t, binary, cfg, addr)

	pad := strings.Repeat("x", 1000)
	var acked []string
	n := 0
	send := func() (*http.Response, []byte) {
		lines := make([]string, 50)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"n":%d,"pad":"%s"}`, n, pad)
			n++
		}
		resp, body, err := putNDJSON(t.Context(), addr, "events", lines)
		require.NoError(t, err)
		if resp.StatusCode == http.StatusOK {
			acked = append(acked, lines...)
		}
		return resp, body
	}

	// Fill: at 50 KiB a request, 400 requests are 20 MiB, far more than left.
	var full *http.Response
	var fullBody []byte
	for range 400 {
		resp, body := send()
		if resp.StatusCode != http.StatusOK {
			full, fullBody = resp, body
			break
		}
	}
	require.NotNil(t, full, "the log never ran out of space")
	requireErrorShape(t, full, fullBody, http.StatusServiceUnavailable, "ServiceUnavailableException")
	require.NotEmpty(t, full.Header.Get("Retry-After"))
	// A 5xx is logged at warn with the request id the client got.
	id := full.Header.Get("X-Amzn-Requestid")
	require.NotEmpty(t, id)
	var logged []logLine
	waitFor(t, 10*time.Second, "a log line with request id "+id, func() bool {
		logged = logsFor(t, srv.logs.String(), id)
		return len(logged) > 0
	})
	require.Equal(t, "WARN", logged[0].Level)
	require.NotEmpty(t, acked, "some records fitted before the disk was full")
	// The refused batch was cut back, which may leave room for the server's
	// 4 KiB space probe: take the rest, so the disk stays full.
	topup := filepath.Join(mnt, "topup")
	f, err := os.Create(topup)
	require.NoError(t, err)
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	require.NoError(t, f.Close())
	resp, body := send()
	requireErrorShape(t, resp, body, http.StatusServiceUnavailable, "ServiceUnavailableException")
	waitFor(t, 30*time.Second, "/readyz failing while the disk is full", func() bool { return srv.readyz() != http.StatusOK })
	resp, body = do(t, newRequest(t, http.MethodGet, "http://"+addr+"/readyz", nil, nil))
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "no space left on device", "the reason, to an open server's caller")

	// Free space: writes resume without a restart.
	require.NoError(t, os.Remove(filler))
	require.NoError(t, os.Remove(topup))
	waitFor(t, 30*time.Second, "/readyz ready again", func() bool { return srv.readyz() == http.StatusOK })
	for range 10 {
		resp, body := send()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	}
	srv.requireRunning(t)
	requireExactlyLines(t, filepath.Join(dir, "lake"), acked)
	t.Logf("%d records acknowledged of %d sent", len(acked), n)
}
