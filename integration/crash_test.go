//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/stretchr/testify/require"
)

// TestCrash_KillNineLosesNoAcknowledgedRecord runs concurrent producers on
// both doors, kills the server with SIGKILL at a random moment, restarts
// it, and repeats; at the end every acknowledged record must have been
// delivered (duplicates are allowed and reported).
func TestCrash_KillNineLosesNoAcknowledgedRecord(t *testing.T) {
	const rounds = 6
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr, "        buffer: { size: 1MiB, interval: 1s }\n")

	var mu sync.Mutex
	acked := map[string]bool{}
	sent := 0
	for round := range rounds {
		srv := startServer(t, cfg, addr)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for p := range 8 {
			wg.Go(func() {
				fh := firehoseClient(addr)
				for n := 0; ctx.Err() == nil; n++ {
					var lines []string
					for i := range 50 {
						lines = append(lines, fmt.Sprintf(`{"round":%d,"producer":%d,"batch":%d,"i":%d}`, round, p, n, i))
					}
					mu.Lock()
					sent += len(lines)
					mu.Unlock()
					ok := false
					if p%2 == 0 {
						recs := make([]types.Record, len(lines))
						for i, l := range lines {
							recs[i] = types.Record{Data: []byte(l)}
						}
						out, err := fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("events"), Records: recs}, func(o *firehose.Options) { o.RetryMaxAttempts = 1 })
						ok = err == nil && aws.ToInt32(out.FailedPutCount) == 0
					} else {
						resp, _, err := putNDJSON(ctx, addr, "events", lines)
						ok = err == nil && resp.StatusCode == http.StatusOK
					}
					if ok {
						mu.Lock()
						for _, l := range lines {
							acked[l] = true
						}
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(200+rand.IntN(1500)) * time.Millisecond) // the random moment of the crash
		srv.kill()
		cancel()
		wg.Wait()
	}
	require.NotEmpty(t, acked)

	srv := startServer(t, cfg, addr)
	lake := dir + "/lake"
	seen := waitLines(t, lake, acked)
	require.NoError(t, srv.stop())

	dups := 0
	for l, n := range seen {
		var v map[string]int
		require.NoError(t, json.Unmarshal([]byte(l), &v), "a delivered line is a whole record: %q", l)
		dups += n - 1
	}
	t.Logf("rounds=%d sent=%d acknowledged=%d delivered distinct=%d duplicates=%d", rounds, sent, len(acked), len(seen), dups)
}
