//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/s3"
	"github.com/hydrant-io/hydrant/sinks/s3/s3test"
)

// newS3Store returns a Store on the test MinIO; edit adjusts its config.
func newS3Store(t testing.TB, edit func(*s3.Config)) *s3.Store {
	t.Helper()
	s3test.Client(t) // fail early, with the hint, when MinIO is down
	env := s3test.LoadEnv()
	cfg := s3.Config{
		Endpoint: env.Endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := s3.New(cfg)
	require.NoError(t, err)
	return s
}

// partsOf reads the part count from a multipart ETag ("<md5>-<parts>");
// 0 means the object was written by a single PUT.
func partsOf(t testing.TB, c *minio.Client, bucket, key string) (int, int64) {
	t.Helper()
	info, err := c.StatObject(t.Context(), bucket, key, minio.StatObjectOptions{})
	require.NoError(t, err)
	_, after, ok := strings.Cut(strings.Trim(info.ETag, `"`), "-")
	if !ok {
		return 0, info.Size
	}
	var n int
	_, err = fmt.Sscan(after, &n)
	require.NoError(t, err, "etag %s", info.ETag)
	return n, info.Size
}

func TestS3StorePutOverwriteReadBack(t *testing.T) {
	c := s3test.Client(t)
	bucket := mustBucket(t, t.Name())
	store := newS3Store(t, nil)
	require.NoError(t, store.Check(t.Context()))
	require.NoError(t, store.CheckBucket(t.Context(), bucket))

	require.NoError(t, store.Put(t.Context(), bucket, "a/b/first.json", strings.NewReader(`{"n":1}`+"\n")))
	require.NoError(t, store.Put(t.Context(), bucket, "a/b/empty", strings.NewReader("")))
	require.Equal(t, map[string][]byte{
		"a/b/first.json": []byte(`{"n":1}` + "\n"),
		"a/b/empty":      {},
	}, listObjects(t, bucket, "a/"))

	// A retried flush overwrites the same key: still one object, new content.
	require.NoError(t, store.Put(t.Context(), bucket, "a/b/first.json", strings.NewReader("replaced")))
	got := listObjects(t, bucket, "a/b/first")
	require.Equal(t, map[string][]byte{"a/b/first.json": []byte("replaced")}, got)
	parts, _ := partsOf(t, c, bucket, "a/b/first.json")
	require.Zero(t, parts, "a small body is one PUT")
}

func TestS3StoreSinglePutOrMultipartAtPartBoundary(t *testing.T) {
	c := s3test.Client(t)
	bucket := mustBucket(t, t.Name())
	ps := int(s3.MinPartSize)
	tests := []struct {
		size, parts int
	}{
		{size: 0, parts: 0},
		{size: 1024, parts: 0},
		{size: ps - 1, parts: 0},
		{size: ps, parts: 1}, // full first part: the store cannot know the body ended
		{size: ps + 1, parts: 2},
		{size: 2 * ps, parts: 2}, // ends exactly on a boundary: no empty third part
		{size: 2*ps + 3, parts: 3},
	}
	for _, unsigned := range []bool{false, true} {
		store := newS3Store(t, func(cfg *s3.Config) {
			cfg.PartSize = s3.MinPartSize
			cfg.UnsignedPayload = unsigned
		})
		for _, tt := range tests {
			t.Run(fmt.Sprintf("unsigned=%t/%d", unsigned, tt.size), func(t *testing.T) {
				body := bytes.Repeat([]byte{byte(tt.size)}, tt.size)
				key := fmt.Sprintf("obj-%t-%d", unsigned, tt.size)
				require.NoError(t, store.Put(t.Context(), bucket, key, iotestOneByteAtATimeIfSmall(body)))
				parts, size := partsOf(t, c, bucket, key)
				require.Equal(t, tt.parts, parts)
				require.EqualValues(t, tt.size, size)
				require.True(t, bytes.Equal(body, getObject(t, c, bucket, key)), "content of %s", key)
			})
		}
	}
}

// iotestOneByteAtATimeIfSmall exercises short reads on small bodies (the
// store must fill whole parts from a reader that returns little at a time).
func iotestOneByteAtATimeIfSmall(b []byte) io.Reader {
	if len(b) <= 1024 {
		return &oneByteReader{b: b}
	}
	return bytes.NewReader(b)
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0], r.b = r.b[0], r.b[1:]
	return 1, nil
}

// genReader produces n pseudo-random bytes without holding them, hashing
// them as they go.
type genReader struct {
	src  *rand.ChaCha8
	left int64
	hash io.Writer
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.src.Read(p)
	g.hash.Write(p[:n])
	g.left -= int64(n)
	return n, nil
}

// heapSampler records the peak HeapInuse while it runs.
type heapSampler struct {
	stop    chan struct{}
	done    chan struct{}
	peak    uint64
	samples int
}

func startHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			h.sample()
			select {
			case <-h.stop:
				h.sample()
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapInuse)
	h.samples++
}

// Stop ends sampling and returns the peak and the number of samples.
func (h *heapSampler) Stop() (uint64, int) {
	close(h.stop)
	<-h.done
	return h.peak, h.samples
}

func TestS3StoreStreamed100MiBIsMultipartWithBoundedHeap(t *testing.T) {
	const size = 100 << 20
	c := s3test.Client(t)
	bucket := mustBucket(t, t.Name())
	store := newS3Store(t, nil) // default 8 MiB parts

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	want := sha256.New()
	gen := &genReader{src: rand.NewChaCha8([32]byte{1}), left: size, hash: want}
	sampler := startHeapSampler(2 * time.Millisecond)
	err := store.Put(t.Context(), bucket, "big/object.bin", gen)
	peak, samples := sampler.Stop()
	require.NoError(t, err)

	parts, got := partsOf(t, c, bucket, "big/object.bin")
	require.EqualValues(t, size, got)
	require.Equal(t, int((size+s3.DefaultPartSize-1)/s3.DefaultPartSize), parts, "one part per 8 MiB")

	// Stream the object back through a hash: same bytes.
	r, err := c.GetObject(t.Context(), bucket, "big/object.bin", minio.GetObjectOptions{})
	require.NoError(t, err)
	defer r.Close()
	have := sha256.New()
	_, err = io.Copy(have, r)
	require.NoError(t, err)
	require.Equal(t, want.Sum(nil), have.Sum(nil))

	growth := int64(peak) - int64(base)
	t.Logf("100 MiB streamed Put: heap in use %0.1f MiB before, peak %0.1f MiB during (+%0.1f MiB), %d samples",
		float64(base)/(1<<20), float64(peak)/(1<<20), float64(growth)/(1<<20), samples)
	// One 8 MiB part buffer plus the client's transient buffers; far from
	// the 100 MiB a buffered upload would need.
	require.Less(t, growth, int64(32<<20), "heap grew with the object size")
}

func TestS3StoreConcurrentPuts(t *testing.T) {
	bucket := mustBucket(t, t.Name())
	store := newS3Store(t, func(cfg *s3.Config) { cfg.PartSize = s3.MinPartSize })
	want := map[string][]byte{}
	for i := range 12 {
		size := 100 + i*1000
		if i%4 == 0 {
			size = int(s3.MinPartSize)*2 + i // multipart
		}
		want[fmt.Sprintf("c/%02d", i)] = bytes.Repeat([]byte{'a' + byte(i)}, size)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(want))
	for key, body := range want {
		wg.Go(func() {
			errs <- store.Put(t.Context(), bucket, key, bytes.NewReader(body))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := listObjects(t, bucket, "c/")
	require.Len(t, got, len(want))
	for key, body := range want {
		require.True(t, bytes.Equal(body, got[key]), "content of %s", key)
	}
}

func TestS3StoreErrorsOnMinIO(t *testing.T) {
	bucket := mustBucket(t, t.Name())
	env := s3test.LoadEnv()
	tests := []struct {
		name      string
		edit      func(*s3.Config)
		bucket    string
		code      string
		permanent bool
	}{
		{name: "missing bucket", bucket: bucket + "-missing", code: "NoSuchBucket"},
		{name: "wrong secret", edit: func(c *s3.Config) { c.SecretAccessKey = "not-" + env.SecretKey }, bucket: bucket, code: "SignatureDoesNotMatch"},
		{name: "unknown access key", edit: func(c *s3.Config) { c.AccessKeyID = "nobody-" + env.AccessKey }, bucket: bucket, code: "InvalidAccessKeyId"},
		{name: "invalid bucket name", bucket: "Not_A_Bucket", code: "InvalidBucketName", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newS3Store(t, tt.edit)
			for _, body := range []io.Reader{strings.NewReader("small"), bytes.NewReader(make([]byte, s3.DefaultPartSize+1))} {
				err := store.Put(t.Context(), tt.bucket, "k", body)
				var e *s3.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tt.code, e.Code, "%v", err)
				require.Equal(t, tt.permanent, sinks.IsPermanent(err), "%v", err)
			}
			err := store.CheckBucket(t.Context(), tt.bucket)
			var e *s3.Error
			require.ErrorAs(t, err, &e)
			if tt.code == "SignatureDoesNotMatch" || tt.code == "InvalidAccessKeyId" {
				// HEAD answers carry no body, so no code beyond the status.
				require.Equal(t, 403, e.StatusCode, "%v", err)
			} else {
				require.Equal(t, tt.code, e.Code, "%v", err)
			}
		})
	}
	t.Run("check with bad credentials", func(t *testing.T) {
		store := newS3Store(t, func(c *s3.Config) { c.SecretAccessKey = "wrong" })
		var e *s3.Error
		require.ErrorAs(t, store.Check(t.Context()), &e)
		require.Equal(t, "SignatureDoesNotMatch", e.Code)
	})
}

// services runs scripts/services.sh with one command.
func services(t *testing.T, command string) {
	t.Helper()
	out, err := exec.Command("../scripts/services.sh", command).CombinedOutput()
	require.NoError(t, err, "scripts/services.sh %s: %s", command, out)
}

func TestS3StoreMinIOOutage(t *testing.T) {
	bucket := mustBucket(t, t.Name())
	store := newS3Store(t, nil)
	require.NoError(t, store.Put(t.Context(), bucket, "before", strings.NewReader("1")))

	services(t, "minio-stop")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			services(t, "minio-start")
		}
	})

	// The deadline only guards against a hang: the Put must fail on its own
	// with a retryable error, well before it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for _, body := range []io.Reader{strings.NewReader("2"), bytes.NewReader(make([]byte, s3.DefaultPartSize+1))} {
		err := store.Put(ctx, bucket, "during", body)
		require.Error(t, err)
		require.NoError(t, ctx.Err(), "Put hung until the deadline instead of failing: %v", err)
		require.False(t, sinks.IsPermanent(err), "an outage is retryable: %v", err)
		var e *s3.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "RequestError", e.Code, "%v", err)
	}

	services(t, "minio-start")
	restarted = true
	require.NoError(t, store.Put(t.Context(), bucket, "during", strings.NewReader("2")))
	require.Equal(t, map[string][]byte{"before": []byte("1"), "during": []byte("2")}, listObjects(t, bucket, ""))
}

// BenchmarkS3StorePut measures Put into the test MinIO:
//
//	go test -tags integration -run '^$' -bench S3StorePut -benchmem ./integration/
func BenchmarkS3StorePut(b *testing.B) {
	for _, unsigned := range []bool{false, true} {
		for _, size := range []int{1 << 10, 1 << 20, 64 << 20} {
			b.Run(fmt.Sprintf("unsigned=%t/%dKiB", unsigned, size>>10), func(b *testing.B) {
				benchPut(b, size, func(c *s3.Config) { c.UnsignedPayload = unsigned })
			})
		}
	}
}

func benchPut(b *testing.B, size int, edit func(*s3.Config)) {
	bucket := mustBucket(b, "bench")
	store := newS3Store(b, edit)
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	b.SetBytes(int64(size))
	i := 0
	for b.Loop() {
		if err := store.Put(b.Context(), bucket, fmt.Sprintf("k/%d", i%8), bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "objects/s")
}
