package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// backend opens a server.stream_backend block; its keys go at 4 spaces
// and start at line 3. head follows, so the file is otherwise valid.
const backend = "server:\n  stream_backend:\n"

func TestStreamBackend_Valid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want StreamBackend
	}{
		{"absent", head, StreamBackend{Type: StreamBackendLocal}},
		{"empty block", "server: { stream_backend: {} }\n" + head, StreamBackend{Type: StreamBackendLocal}},
		{"local", backend + "    type: local\n" + head, StreamBackend{Type: StreamBackendLocal}},
		{"empty type is local", backend + "    type: \"\"\n" + head, StreamBackend{Type: StreamBackendLocal}},
		{"minimal jetstream", backend + "    type: jetstream\n    urls: [nats://n1:4222]\n" + head,
			StreamBackend{Type: StreamBackendJetStream, URLs: []string{"nats://n1:4222"}, Replicas: 1,
				LeaseTTL: Duration(10 * time.Second), PublishTimeout: Duration(10 * time.Second)}},
		{"full jetstream with a creds file", backend + `    type: jetstream
    urls: ["nats://n1:4222", "tls://n2:4222", "nats://[::1]:4222", "NATS://n4"]
    replicas: 3
    node: node_1-a
    lease_ttl: 30s
    publish_timeout: 2s
    credentials_file: nats/hydrant.creds
    tls: { ca_file: ca.pem, cert_file: /etc/hydrant/client.pem, key_file: client-key.pem }
` + head,
			StreamBackend{Type: StreamBackendJetStream, URLs: []string{"nats://n1:4222", "tls://n2:4222", "nats://[::1]:4222", "NATS://n4"},
				Replicas: 3, Node: "node_1-a", LeaseTTL: Duration(30 * time.Second), PublishTimeout: Duration(2 * time.Second),
				CredentialsFile: "nats/hydrant.creds",
				TLS:             BackendTLS{CAFile: "ca.pem", CertFile: "/etc/hydrant/client.pem", KeyFile: "client-key.pem"}}},
		{"user and password over websocket", backend + `    type: jetstream
    urls: ["ws://n1:8080", "wss://n2"]
    replicas: 5
    lease_ttl: 1s
    publish_timeout: 100ms
    user: hydrant
    password: s3cret
` + head,
			StreamBackend{Type: StreamBackendJetStream, URLs: []string{"ws://n1:8080", "wss://n2"}, Replicas: 5,
				LeaseTTL: Duration(time.Second), PublishTimeout: Duration(100 * time.Millisecond), User: "hydrant", Password: "s3cret"}},
		{"token, longest lease, null keys take defaults", backend + `    type: jetstream
    urls: [tls://n1]
    replicas: ~
    lease_ttl: 5m
    publish_timeout: null
    token: t0k3n
` + head,
			StreamBackend{Type: StreamBackendJetStream, URLs: []string{"tls://n1"}, Replicas: 1,
				LeaseTTL: Duration(5 * time.Minute), PublishTimeout: Duration(10 * time.Second), Token: "t0k3n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Empty(t, parseErrs(t, tt.src, nil))
			c := mustParse(t, tt.src, nil)
			require.Equal(t, tt.want, c.Server.StreamBackend)
			require.Equal(t, tt.want.Type == "jetstream", c.Server.StreamBackend.JetStream())
		})
	}
}

func TestStreamBackend_Defaults(t *testing.T) {
	c := mustParse(t, head, nil)
	require.Equal(t, StreamBackend{Type: "local"}, c.Server.StreamBackend, "no jetstream key is defaulted for local")
	require.False(t, c.Server.StreamBackend.JetStream())

	c = mustParse(t, "server: { stream_backend: { type: jetstream, urls: [nats://a] } }\n"+head, nil)
	b := c.Server.StreamBackend
	require.True(t, b.JetStream())
	require.Equal(t, 1, b.Replicas)
	require.Equal(t, Duration(10*time.Second), b.LeaseTTL)
	require.Equal(t, Duration(10*time.Second), b.PublishTimeout)
	require.Empty(t, b.Node, "the runtime names the node (hostname-port), not Parse")
	require.Equal(t, DefaultBackendReplicas, b.Replicas)
	require.Equal(t, DefaultBackendLeaseTTL, b.LeaseTTL)
	require.Equal(t, DefaultBackendPublishTimeout, b.PublishTimeout)
}

func TestStreamBackend_Errors(t *testing.T) {
	const js = backend + "    type: jetstream\n" // keys from line 4
	const jsURL = js + "    urls: [nats://n1:4222]\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown type", backend + "    type: kafka\n",
			[]string{`p.yaml:3:11: server.stream_backend.type: invalid value "kafka" (want one of local, jetstream)`}},
		{"type not a string", backend + "    type: [jetstream]\n",
			[]string{`p.yaml:3:11: server.stream_backend.type: expected a string, got a sequence`}},
		{"unknown key", jsURL + "    max_ack_pending: 10\n",
			[]string{`p.yaml:5:5: server.stream_backend.max_ack_pending: unknown key "max_ack_pending"`}},
		{"misspelt key", jsURL + "    replica: 3\n",
			[]string{`p.yaml:5:5: server.stream_backend.replica: unknown key "replica" (did you mean "replicas"?)`}},
		{"jetstream keys with type local", backend + "    type: local\n    urls: [nats://a]\n    replicas: 3\n    user: \"\"\n    tls: { ca_file: ca.pem }\n",
			[]string{
				`p.yaml:4:5: server.stream_backend.urls: only with type: jetstream`,
				`p.yaml:5:5: server.stream_backend.replicas: only with type: jetstream`,
				`p.yaml:6:5: server.stream_backend.user: only with type: jetstream`,
				`p.yaml:7:5: server.stream_backend.tls: only with type: jetstream`,
			}},
		{"jetstream keys without a type", backend + "    urls: [nats://a]\n    lease_ttl: 30s\n",
			[]string{
				`p.yaml:3:5: server.stream_backend.urls: only with type: jetstream`,
				`p.yaml:4:5: server.stream_backend.lease_ttl: only with type: jetstream`,
			}},
		{"no urls", js,
			[]string{`p.yaml:3:5: server.stream_backend.urls: at least one URL is required with type: jetstream`}},
		{"empty urls", js + "    urls: []\n",
			[]string{`p.yaml:4:11: server.stream_backend.urls: at least one URL is required with type: jetstream`}},
		{"bad urls", js + "    urls:\n      - nats://ok:4222\n      - http://n2:4222\n      - n3:4222\n      - nats://:4222\n      - \"nats://a:4222,nats://b:4222\"\n      - \"\"\n      - \"nats://bad host\"\n",
			[]string{
				`p.yaml:6:9: server.stream_backend.urls[1]: invalid URL "http://n2:4222": want nats://, tls://, ws:// or wss:// with a host`,
				`p.yaml:7:9: server.stream_backend.urls[2]: invalid URL "n3:4222": want nats://, tls://, ws:// or wss:// with a host`,
				`p.yaml:8:9: server.stream_backend.urls[3]: invalid URL "nats://:4222": want nats://, tls://, ws:// or wss:// with a host`,
				`p.yaml:9:9: server.stream_backend.urls[4]: invalid URL "nats://a:4222,nats://b:4222": one URL per entry`,
				`p.yaml:10:9: server.stream_backend.urls[5]: invalid URL "": want nats://, tls://, ws:// or wss:// with a host`,
				`p.yaml:11:9: server.stream_backend.urls[6]: invalid URL "nats://bad host": want nats://, tls://, ws:// or wss:// with a host`,
			}},
		{"websocket mixed with nats", js + "    urls: [\"wss://a\", \"nats://b\", \"ws://c\", \"tls://d\"]\n",
			[]string{
				`p.yaml:4:23: server.stream_backend.urls[1]: cannot mix websocket (ws://, wss://) and nats://, tls:// URLs: the NATS client refuses it`,
				`p.yaml:4:45: server.stream_backend.urls[3]: cannot mix websocket (ws://, wss://) and nats://, tls:// URLs: the NATS client refuses it`,
			}},
		{"replicas zero", jsURL + "    replicas: 0\n",
			[]string{`p.yaml:5:15: server.stream_backend.replicas: must be between 1 and 5, got 0`}},
		{"replicas above five", jsURL + "    replicas: 7\n",
			[]string{`p.yaml:5:15: server.stream_backend.replicas: must be between 1 and 5, got 7`}},
		{"replicas not a number", jsURL + "    replicas: three\n",
			[]string{`p.yaml:5:15: server.stream_backend.replicas: expected an integer, got string "three"`}},
		{"node charset", jsURL + "    node: node.1\n",
			[]string{`p.yaml:5:11: server.stream_backend.node: invalid node name "node.1": want 1 to 64 characters from [a-zA-Z0-9_-]`}},
		{"node too long", jsURL + "    node: " + strings.Repeat("n", 65) + "\n",
			[]string{`p.yaml:5:11: server.stream_backend.node: invalid node name "` + strings.Repeat("n", 65) + `": want 1 to 64 characters from [a-zA-Z0-9_-]`}},
		{"lease_ttl too short", jsURL + "    lease_ttl: 500ms\n",
			[]string{`p.yaml:5:16: server.stream_backend.lease_ttl: must be between 1s and 5m0s, got 500ms`}},
		{"lease_ttl zero", jsURL + "    lease_ttl: 0\n",
			[]string{`p.yaml:5:16: server.stream_backend.lease_ttl: must be between 1s and 5m0s, got 0s`}},
		{"lease_ttl too long", jsURL + "    lease_ttl: 6m\n",
			[]string{`p.yaml:5:16: server.stream_backend.lease_ttl: must be between 1s and 5m0s, got 6m0s`}},
		{"lease_ttl not a duration", jsURL + "    lease_ttl: 10\n",
			[]string{`p.yaml:5:16: server.stream_backend.lease_ttl: invalid duration "10": missing unit (e.g. 10s)`}},
		{"publish_timeout too short", jsURL + "    publish_timeout: 50ms\n",
			[]string{`p.yaml:5:22: server.stream_backend.publish_timeout: must be at least 100ms, got 50ms`}},
		{"user without password", jsURL + "    user: hydrant\n",
			[]string{`p.yaml:5:11: server.stream_backend.user: user and password must be set together`}},
		{"password without user", jsURL + "    password: s3cret\n",
			[]string{`p.yaml:5:15: server.stream_backend.password: user and password must be set together`}},
		{"empty password", jsURL + "    user: hydrant\n    password: \"\"\n",
			[]string{`p.yaml:5:11: server.stream_backend.user: user and password must be set together`}},
		{"token with user and password", jsURL + "    user: u\n    password: p\n    token: t\n",
			[]string{`p.yaml:7:12: server.stream_backend.token: cannot be combined with user and password: authenticate one way`}},
		{"credentials_file with user and password", jsURL + "    credentials_file: h.creds\n    user: u\n    password: p\n",
			[]string{`p.yaml:5:23: server.stream_backend.credentials_file: cannot be combined with user, password or token: authenticate one way`}},
		{"credentials_file with token", jsURL + "    credentials_file: h.creds\n    token: t\n",
			[]string{`p.yaml:5:23: server.stream_backend.credentials_file: cannot be combined with user, password or token: authenticate one way`}},
		{"credentials_file missing", jsURL + "    credentials_file: nats/missing.creds\n",
			[]string{`p.yaml:5:23: server.stream_backend.credentials_file: file nats/missing.creds does not exist`}},
		{"tls files missing", jsURL + "    tls:\n      ca_file: missing-ca.pem\n      cert_file: missing-cert.pem\n      key_file: missing-key.pem\n",
			[]string{
				`p.yaml:6:16: server.stream_backend.tls.ca_file: file missing-ca.pem does not exist`,
				`p.yaml:7:18: server.stream_backend.tls.cert_file: file missing-cert.pem does not exist`,
				`p.yaml:8:17: server.stream_backend.tls.key_file: file missing-key.pem does not exist`,
			}},
		{"cert_file without key_file", jsURL + "    tls: { cert_file: c.pem }\n",
			[]string{`p.yaml:5:23: server.stream_backend.tls.cert_file: cert_file and key_file must be set together`}},
		{"key_file without cert_file", jsURL + "    tls: { ca_file: ca.pem, key_file: k.pem }\n",
			[]string{`p.yaml:5:39: server.stream_backend.tls.key_file: cert_file and key_file must be set together`}},
		{"unknown tls key", jsURL + "    tls: { insecure_skip_verify: true }\n",
			[]string{`p.yaml:5:12: server.stream_backend.tls.insecure_skip_verify: unknown key "insecure_skip_verify"`}},
		{"every error at once", js + "    urls: [localhost]\n    replicas: 9\n    node: \"a b\"\n    lease_ttl: 1h\n    publish_timeout: 1ms\n    token: t\n    user: u\n",
			[]string{
				`p.yaml:4:12: server.stream_backend.urls[0]: invalid URL "localhost": want nats://, tls://, ws:// or wss:// with a host`,
				`p.yaml:5:15: server.stream_backend.replicas: must be between 1 and 5, got 9`,
				`p.yaml:6:11: server.stream_backend.node: invalid node name "a b": want 1 to 64 characters from [a-zA-Z0-9_-]`,
				`p.yaml:7:16: server.stream_backend.lease_ttl: must be between 1s and 5m0s, got 1h0m0s`,
				`p.yaml:8:22: server.stream_backend.publish_timeout: must be at least 100ms, got 1ms`,
				`p.yaml:9:12: server.stream_backend.token: cannot be combined with user and password: authenticate one way`,
				`p.yaml:10:11: server.stream_backend.user: user and password must be set together`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, parseErrs(t, tt.src+head, nil))
		})
	}
}

// Files are resolved against the config file's directory, as wasm modules
// and schemas are; the values stay as written (Config.Resolve maps them).
func TestStreamBackend_FilesRelativeToTheConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "nats"), 0o755))
	for _, name := range []string{"nats/hydrant.creds", "nats/ca.pem", "nats/client.pem", "nats/client-key.pem"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	abs := filepath.Join(dir, "nats", "ca.pem")
	src := backend + `    type: jetstream
    urls: [nats://n1:4222]
    credentials_file: nats/hydrant.creds
    tls:
      ca_file: "` + abs + `"
      cert_file: nats/client.pem
      key_file: nats/client-key.pem
` + head
	path := filepath.Join(dir, "hydrant.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	c, err := LoadWith(path, Options{Env: noEnv})
	require.NoError(t, err)
	b := c.Server.StreamBackend
	require.Equal(t, "nats/hydrant.creds", b.CredentialsFile)
	require.Equal(t, filepath.Join(dir, "nats", "hydrant.creds"), c.Resolve(b.CredentialsFile))
	require.Equal(t, abs, c.Resolve(b.TLS.CAFile))
	require.Equal(t, filepath.Join(dir, "nats", "client-key.pem"), c.Resolve(b.TLS.KeyFile))

	// A missing file is named by the path it was looked for at.
	require.NoError(t, os.Remove(filepath.Join(dir, "nats", "client.pem")))
	_, err = LoadWith(path, Options{Env: noEnv})
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 1)
	require.Equal(t, path+":8:18: server.stream_backend.tls.cert_file: file "+filepath.Join(dir, "nats", "client.pem")+" does not exist",
		errs[0].Error())
}
