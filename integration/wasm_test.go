//go:build integration

package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The example modules, built by scripts/build-wasm.sh exactly as `make wasm`
// builds them, run in the server: filter drops heartbeats, redact masks
// personal data, enrich sets the partition key the prefix uses; a record
// enrich cannot handle is backed up as processing-failed.
func TestWasm_ExampleModulesRunInTheServer(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	mods := filepath.Join(dir, "wasm")
	build := exec.Command("../scripts/build-wasm.sh", mods)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	lake := filepath.Join(dir, "lake")
	path := writePipelines(t, dir, addr, `  - name: events
    processors:
      - { type: wasm, module: wasm/filter.wasm }
      - { type: wasm, module: wasm/redact.wasm, timeout: 2s, memory_limit: 64MiB }
      - { type: wasm, module: wasm/enrich.wasm }
      - { type: append_delimiter }
    destinations:
      - name: lake
        type: directory
        store: local
        prefix: "customer=!{partitionKeyFromLambda:customer_id}/"
        error_output_prefix: "errors/!{firehose:error-output-type}/"
        buffer: { size: 1MiB, interval: 0s }
`)
	// wazero compiles the three modules under the race detector: slow.
	srv := startServerWithin(t, path, addr, 5*time.Minute)

	var lines, want []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf(`{"customer_id":"c%d","email":"user%d@example.com","n":%d}`, i%2, i, i))
		want = append(want, fmt.Sprintf(`customer=c%d {"customer_id":"c%d","email":"%s","n":%d}`,
			i%2, i%2, strings.Repeat("*", len(fmt.Sprintf("user%d@example.com", i))), i))
	}
	heartbeats := []string{`{"type":"heartbeat"}`, `{"type":"heartbeat","customer_id":"c0"}`}
	noCustomer := `{"email":"x@example.com","n":99}`
	sendLines(t, addr, "events", append(append(lines, heartbeats...), noCustomer))

	var got []string
	var failed []string
	waitFor(t, time.Minute, "every record delivered or backed up", func() bool {
		got, failed = nil, nil
		for _, o := range readLake(t, lake) {
			if strings.HasPrefix(o.Key, "errors/processing-failed/") {
				for _, l := range o.Lines {
					var bl backupLine
					require.NoError(t, json.Unmarshal(l, &bl))
					raw, err := base64.StdEncoding.DecodeString(bl.RawData)
					require.NoError(t, err)
					failed = append(failed, string(raw)+" | "+bl.ErrorMessage)
				}
				continue
			}
			part := strings.SplitN(o.Key, "/", 2)[0]
			for _, l := range o.Lines {
				got = append(got, part+" "+string(l))
			}
		}
		return len(got) >= len(want) && len(failed) >= 1
	})
	require.ElementsMatch(t, want, got, "heartbeats dropped, emails masked, partitioned by the module's key")
	require.Len(t, failed, 1)
	require.Contains(t, failed[0], noCustomer, "the backup keeps the record as it was sent")
	require.Contains(t, failed[0], "no customer_id")
	require.NoError(t, srv.stop())
}
