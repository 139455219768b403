//go:build integration

package integration

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/stretchr/testify/require"
)

// firehoseClient is the real AWS SDK client pointed at a hydrant server.
func firehoseClient(addr string) *firehose.Client {
	return firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + addr),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// keyLayout is Firehose's S3 key layout: yyyy/MM/dd/HH/ prefix (auto-appended
// to an empty prefix) and <pipeline>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>.
var keyLayout = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\d{2}/events-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestE2E_FirehoseSDKAndRESTDoorDeliverToDirectory(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	// A long interval: records are delivered by the SIGTERM drain, which
	// this test thereby checks too.
	cfg := writeConfig(t, dir, addr, "        buffer: { size: 1MiB, interval: 900s }\n")
	srv := startServer(t, cfg, addr)
	ctx := t.Context()
	fh := firehoseClient(addr)

	list, err := fh.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
	require.NoError(t, err)
	require.Equal(t, []string{"events"}, list.DeliveryStreamNames)
	require.False(t, aws.ToBool(list.HasMoreDeliveryStreams))

	desc, err := fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("events")})
	require.NoError(t, err)
	require.Equal(t, "events", aws.ToString(desc.DeliveryStreamDescription.DeliveryStreamName))
	require.Equal(t, types.DeliveryStreamStatusActive, desc.DeliveryStreamDescription.DeliveryStreamStatus)
	require.Equal(t, "arn:aws:firehose:us-east-1:000000000000:deliverystream/events", aws.ToString(desc.DeliveryStreamDescription.DeliveryStreamARN))

	_, err = fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("nope")})
	var notFound *types.ResourceNotFoundException
	require.True(t, errors.As(err, &notFound), "want ResourceNotFoundException, got %v", err)

	want := map[string]bool{}
	one := `{"door":"firehose","n":-1}`
	put, err := fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("events"), Record: &types.Record{Data: []byte(one)}})
	require.NoError(t, err)
	require.NotEmpty(t, aws.ToString(put.RecordId))
	want[one] = true

	ids := map[string]bool{aws.ToString(put.RecordId): true}
	for b := range 4 {
		var recs []types.Record
		for i := range 500 {
			line := fmt.Sprintf(`{"door":"firehose","n":%d}`, b*500+i)
			recs = append(recs, types.Record{Data: []byte(line)})
			want[line] = true
		}
		out, err := fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("events"), Records: recs})
		require.NoError(t, err)
		require.Equal(t, int32(0), aws.ToInt32(out.FailedPutCount))
		require.Len(t, out.RequestResponses, 500)
		for _, r := range out.RequestResponses {
			id := aws.ToString(r.RecordId)
			require.False(t, ids[id], "record id %q returned twice", id)
			ids[id] = true
		}
	}

	_, err = fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("nope"), Record: &types.Record{Data: []byte("x")}})
	require.True(t, errors.As(err, &notFound), "want ResourceNotFoundException, got %v", err)

	for b := range 2 {
		var lines []string
		for i := range 500 {
			l := fmt.Sprintf(`{"door":"rest","n":%d}`, b*500+i)
			lines = append(lines, l)
			want[l] = true
		}
		resp, body, err := putNDJSON(ctx, addr, "events", lines)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Contains(t, string(body), `"accepted":500`)
	}
	// The batch door is bounded by bytes, not by PutRecordBatch's 500
	// records: an ordinary 10,000-line file goes in whole.
	file := make([]string, 10_000)
	for i := range file {
		file[i] = fmt.Sprintf(`{"door":"rest-file","n":%d}`, i)
		want[file[i]] = true
	}
	resp, body, err := putNDJSON(ctx, addr, "events", file)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"accepted":10000`)
	// Past max_request_bytes (5 MiB by default) it is refused whole.
	huge := make([]string, 6_000)
	for i := range huge {
		huge[i] = `{"never":"stored","pad":"` + strings.Repeat("x", 1000) + `"}`
	}
	resp, body, err = putNDJSON(ctx, addr, "events", huge)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(body))

	resp, body, err = putNDJSON(ctx, addr, "events", []string{`{"ok":1}`, `{"broken"`})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"line":2`)

	// The Firehose HTTP-endpoint receiver: what AWS Firehose (or another
	// Hydrant's http sink) POSTs to an endpoint.
	recvBody := `{"requestId":"r-1","timestamp":1578090901599,"records":[{"data":"eyJkb29yIjoicmVjZWl2ZXIifQ=="}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/firehose-endpoint/events", strings.NewReader(recvBody))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Firehose-Request-Id", "r-1")
	req.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(reply))
	require.Contains(t, string(reply), `"requestId":"r-1"`)
	want[`{"door":"receiver"}`] = true

	require.NoError(t, srv.stop(), "SIGTERM must drain and exit 0")

	objs := readLake(t, dir+"/lake")
	require.NotEmpty(t, objs)
	got := map[string]int{}
	for _, o := range objs {
		require.Regexp(t, keyLayout, o.Key)
		for _, l := range o.Lines {
			got[string(l)]++
		}
	}
	for l := range want {
		require.Equal(t, 1, got[l], "record %s delivered %d times", l, got[l])
	}
	require.Len(t, got, len(want), "nothing but the sent records (the rejected batch stored nothing)")
}
