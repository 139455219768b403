package ingest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

var testCreds = map[string]string{"AKIDHYDRANT": "s3cr3t"}

// signedRequest builds a Firehose request signed by the real AWS SDK signer.
func signedRequest(t *testing.T, body, service, region, akid, secret string, at time.Time) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4575/", strings.NewReader(body))
	req.Header.Set("Content-Type", api.ContentType)
	req.Header.Set("X-Amz-Target", api.TargetPrefix+api.OpPutRecord)
	req.Header.Set("Amz-Sdk-Request", "attempt=1;  max=3")
	err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, api.HashHex([]byte(body)), service, region, at)
	require.NoError(t, err)
	return req
}

func TestFirehose_SigV4(t *testing.T) {
	now := time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC)
	body := `{"DeliveryStreamName":"logs","Record":{"Data":"eA=="}}`
	cases := []struct {
		name string
		req  func(t *testing.T) *http.Request
		code string // "" = success
	}{
		{"valid", func(t *testing.T) *http.Request {
			return signedRequest(t, body, "firehose", "eu-central-1", "AKIDHYDRANT", "s3cr3t", now)
		}, ""},
		{"skew just inside", func(t *testing.T) *http.Request {
			return signedRequest(t, body, "firehose", "us-east-1", "AKIDHYDRANT", "s3cr3t", now.Add(-5*time.Minute))
		}, ""},
		{"expired", func(t *testing.T) *http.Request {
			return signedRequest(t, body, "firehose", "us-east-1", "AKIDHYDRANT", "s3cr3t", now.Add(-5*time.Minute-time.Second))
		}, api.ErrInvalidSignature},
		{"future", func(t *testing.T) *http.Request {
			return signedRequest(t, body, "firehose", "us-east-1", "AKIDHYDRANT", "s3cr3t", now.Add(6*time.Minute))
		}, api.ErrInvalidSignature},
		{"wrong secret", func(t *testing.T) *http.Request {
			return signedRequest(t, body, "firehose", "us-east-1", "AKIDHYDRANT", "nope", now)
		}, api.ErrInvalidSignature},
		{"wrong service", func(t *testing.T) *http.Request {
			return signedRequest(t, body, "kinesis", "us-east-1", "AKIDHYDRANT", "s3cr3t", now)
		}, api.ErrInvalidSignature},
		{"unknown key", func(t *testing.T) *http.Request {
			return signedRequest(t, body, "firehose", "us-east-1", "AKIDOTHER", "s3cr3t", now)
		}, api.ErrUnrecognizedClient},
		{"tampered body", func(t *testing.T) *http.Request {
			r := signedRequest(t, body, "firehose", "us-east-1", "AKIDHYDRANT", "s3cr3t", now)
			tampered := strings.Replace(body, "eA==", "eQ==", 1)
			r.Body = http.NoBody
			r2 := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4575/", strings.NewReader(tampered))
			r2.Header = r.Header
			return r2
		}, api.ErrInvalidSignature},
		{"tampered target", func(t *testing.T) *http.Request {
			r := signedRequest(t, body, "firehose", "us-east-1", "AKIDHYDRANT", "s3cr3t", now)
			r.Header.Set("X-Amz-Target", api.TargetPrefix+api.OpPutRecordBatch)
			return r
		}, api.ErrInvalidSignature},
		{"missing", func(*testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		}, api.ErrMissingAuthToken},
		{"garbage", func(*testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
			return r
		}, api.ErrIncompleteSignature},
		{"hydrant client signer", func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4575/", strings.NewReader(body))
			r.Header.Set("Content-Type", api.ContentType)
			r.Header.Set("X-Amz-Target", api.TargetPrefix+api.OpPutRecord)
			api.SignRequest(r, []byte(body), api.Credentials{AccessKeyID: "AKIDHYDRANT", SecretAccessKey: "s3cr3t"}, "us-west-2", now)
			return r
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("logs")
			h := newTestServer(t, f, func(o *Options) {
				o.AWSCredentials = testCreds
				o.Now = func() time.Time { return now }
			}).Handler()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req(t))
			if tc.code == "" {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.Len(t, f.stored("logs"), 1)
				return
			}
			status := http.StatusBadRequest
			if tc.code == api.ErrMissingAuthToken { // no credential at all: 401 on every door
				status = http.StatusUnauthorized
			}
			requireError(t, w, status, tc.code)
			require.Empty(t, f.stored("logs"))
		})
	}
}

// retryingFake fails the first n Appends with backpressure.
type retryingFake struct {
	*fakeStreams
	failures int
}

func (r *retryingFake) Append(ctx context.Context, stream string, recs []record.Record) error {
	r.mu.Lock()
	if r.failures > 0 {
		r.failures--
		r.calls++
		r.mu.Unlock()
		return record.ErrBackpressure
	}
	r.mu.Unlock()
	return r.fakeStreams.Append(ctx, stream, recs)
}

func newSDKClient(t *testing.T, s *Server, secret string) *firehose.Client {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDHYDRANT", secret, ""),
		HTTPClient:   ts.Client(),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
}

func TestFirehose_AWSSDKEndToEnd(t *testing.T) {
	f := newFake("logs", "metrics")
	s := newTestServer(t, f, func(o *Options) { o.AWSCredentials = testCreds })
	c := newSDKClient(t, s, "s3cr3t")
	ctx := t.Context()

	pr, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("logs"),
		Record: &types.Record{Data: []byte("one")}})
	require.NoError(t, err)
	require.Equal(t, "id-1", aws.ToString(pr.RecordId))
	require.False(t, aws.ToBool(pr.Encrypted))

	batch, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("logs"),
		Records: []types.Record{{Data: []byte("two")}, {Data: []byte("three")}}})
	require.NoError(t, err)
	require.Equal(t, int32(0), aws.ToInt32(batch.FailedPutCount))
	require.Len(t, batch.RequestResponses, 2)
	require.Equal(t, "id-2", aws.ToString(batch.RequestResponses[0].RecordId))
	require.Equal(t, "id-3", aws.ToString(batch.RequestResponses[1].RecordId))
	require.Equal(t, []string{"one", "two", "three"}, storedData(f))

	list, err := c.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{Limit: aws.Int32(1)})
	require.NoError(t, err)
	require.Equal(t, []string{"logs"}, list.DeliveryStreamNames)
	require.True(t, aws.ToBool(list.HasMoreDeliveryStreams))

	// Vector's healthcheck: Limit 1, name must round-trip.
	desc, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("logs"), Limit: aws.Int32(1)})
	require.NoError(t, err)
	d := desc.DeliveryStreamDescription
	require.Equal(t, "logs", aws.ToString(d.DeliveryStreamName))
	require.Equal(t, types.DeliveryStreamStatusActive, d.DeliveryStreamStatus)
	require.Equal(t, types.DeliveryStreamTypeDirectPut, d.DeliveryStreamType)
	require.Equal(t, time.Unix(1700000000, 500e6).UTC(), d.CreateTimestamp.UTC())
	require.True(t, aws.ToBool(d.HasMoreDestinations))
	require.Len(t, d.Destinations, 1)
	ext := d.Destinations[0].ExtendedS3DestinationDescription
	require.NotNil(t, ext)
	require.Equal(t, "arn:aws:s3:::my-bucket", aws.ToString(ext.BucketARN))
	require.Equal(t, types.CompressionFormatGzip, ext.CompressionFormat)
	require.Equal(t, int32(64), aws.ToInt32(ext.BufferingHints.SizeInMBs))

	_, err = c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("nope"),
		Record: &types.Record{Data: []byte("x")}})
	var rnf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &rnf)
	require.Contains(t, rnf.ErrorMessage(), "Firehose nope under account 000000000000 not found.")

	_, err = c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("logs"), Records: []types.Record{}})
	var inv *types.InvalidArgumentException
	require.ErrorAs(t, err, &inv)
}

func TestFirehose_AWSSDKErrors(t *testing.T) {
	t.Run("bad secret", func(t *testing.T) {
		s := newTestServer(t, newFake("logs"), func(o *Options) { o.AWSCredentials = testCreds })
		_, err := newSDKClient(t, s, "wrong").ListDeliveryStreams(t.Context(), &firehose.ListDeliveryStreamsInput{})
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, api.ErrInvalidSignature, ae.ErrorCode())
	})
	t.Run("backpressure is retried", func(t *testing.T) {
		f := &retryingFake{fakeStreams: newFake("logs"), failures: 2}
		s := newTestServer(t, f.fakeStreams, nil)
		s.streams = f
		out, err := newSDKClient(t, s, "s3cr3t").PutRecordBatch(t.Context(), &firehose.PutRecordBatchInput{
			DeliveryStreamName: aws.String("logs"), Records: []types.Record{{Data: []byte("x")}}})
		require.NoError(t, err)
		require.Len(t, out.RequestResponses, 1)
		require.Equal(t, 3, f.calls) // two 503s, then success
		require.Len(t, f.stored("logs"), 1)
	})
	t.Run("backpressure exhausts retries", func(t *testing.T) {
		f := &retryingFake{fakeStreams: newFake("logs"), failures: 100}
		s := newTestServer(t, f.fakeStreams, nil)
		s.streams = f
		_, err := newSDKClient(t, s, "s3cr3t").PutRecord(t.Context(), &firehose.PutRecordInput{
			DeliveryStreamName: aws.String("logs"), Record: &types.Record{Data: []byte("x")}})
		var su *types.ServiceUnavailableException
		require.ErrorAs(t, err, &su)
		require.Equal(t, 3, f.calls) // SDK default: 3 attempts
		require.False(t, errors.Is(err, context.Canceled))
	})
}
