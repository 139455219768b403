package configs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	require.NoError(f, err)
	for _, name := range append(files, "default.yaml") {
		data, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"---\n",
		"{",
		"pipelines: [",
		"pipelines:\n  - name: [\n",
		"a: &a [*a]\n",
		"a: &a {b: *a}\npipelines: [*a]\n",
		"x: &x {type: directory, path: p}\nstores: {a: *x, b: {<<: *x, <<: *x}}\n",
		"version: 99999999999999999999999999\n",
		"server: {limits: {max_request_bytes: 99999999999999TiB, max_record_bytes: 1e400}}\n",
		"pipelines: [{name: p, stream: {shards: -1, retention: 9999999999h}}]\n",
		"server: {listen: ${HOST:-[::1]:80}}\napi: $${LITERAL}\n",
		"a: ${UNTERMINATED\n",
		"\xef\xbb\xbfversion: 1\n",
		"pipelines: [{name: p, destinations: [{name: d, type: s3, prefix: \"!{timestamp:\"}]}]\n",
		"--- 1\n--- 2\n",
		"? [a]\n: b\n",
		"!!binary a: b\n",
		"server: {stream_backend: {type: jetstream, urls: [\"nats://a,b\", \"ws://\", wss://c], replicas: 0, lease_ttl: 0, tls: {key_file: k}}}\n",
		"server: {stream_backend: {urls: [nats://a], token: t, user: u}}\n",
	} {
		f.Add([]byte(s))
	}
	env := func(k string) (string, bool) {
		if k == "SET" {
			return "v\nw: ${X}", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseWith("f.yaml", data, Options{Env: env, Stat: func(string) error { return nil }})
		if err == nil {
			require.NotNil(t, c)
			return
		}
		require.Nil(t, c)
		var errs Errors
		require.True(t, errors.As(err, &errs), "error is not Errors: %v", err)
		require.NotEmpty(t, errs)
		for _, e := range errs {
			require.NotEmpty(t, e.Msg)
			require.Equal(t, "f.yaml", e.File)
		}
	})
}

func BenchmarkParse_FullExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("examples", "full.yaml"))
	require.NoError(b, err)
	opts := Options{Env: noEnv, Stat: func(string) error { return nil }}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseWith("full.yaml", data, opts); err != nil {
			b.Fatal(err)
		}
	}
}
