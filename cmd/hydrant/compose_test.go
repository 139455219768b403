package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/hydrant-io/hydrant/configs"
)

// The compose stack's files, relative to this package's directory.
const (
	repoRoot          = "../.."
	composeFile       = repoRoot + "/compose.yaml"
	composeConfig     = repoRoot + "/configs/compose.yaml"
	prometheusConfig  = repoRoot + "/deploy/prometheus/prometheus.yml"
	grafanaDashboard  = repoRoot + "/deploy/grafana/dashboards/hydrant.json"
	grafanaDatasource = repoRoot + "/deploy/grafana/provisioning/datasources/prometheus.yaml"
	grafanaProvider   = repoRoot + "/deploy/grafana/provisioning/dashboards/hydrant.yaml"
)

// composeSpec is the part of a Compose file the tests look at.
type composeSpec struct {
	Version  *string                   `yaml:"version"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command   any       `yaml:"command"`
	Volumes   []string  `yaml:"volumes"`
	Ports     []string  `yaml:"ports"`
	DependsOn dependsOn `yaml:"depends_on"`
}

// dependsOn is depends_on in either of its forms: a list of service names
// or a map of service name to condition.
type dependsOn []string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		return n.Decode((*[]string)(d))
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	for name := range m {
		*d = append(*d, name)
	}
	return nil
}

// mount is one short-syntax volume entry, "source:target[:mode]".
type mount struct{ source, target string }

func (s composeService) mounts() []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		out = append(out, mount{source: parts[0], target: parts[1]})
	}
	return out
}

// bind reports whether the source is a host path rather than a named volume.
func (m mount) bind() bool {
	return strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/")
}

func loadCompose(t *testing.T) composeSpec {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	require.NoError(t, err)
	var c composeSpec
	require.NoError(t, yaml.Unmarshal(data, &c))
	return c
}

// noEnv leaves every ${VAR:-default} at its default.
func noEnv(string) (string, bool) { return "", false }

func loadComposeConfig(t *testing.T) *configs.Config {
	t.Helper()
	cfg, err := configs.LoadWith(composeConfig, configs.Options{Env: noEnv})
	require.NoError(t, err)
	return cfg
}

func TestCompose_ServicesMountsAndPorts(t *testing.T) {
	c := loadCompose(t)
	require.Nil(t, c.Version, "the Compose spec has no version key")
	for _, name := range []string{"hydrant", "minio", "minio-setup", "opensearch", "opensearch-dashboards", "postgres", "prometheus", "grafana"} {
		require.Contains(t, c.Services, name)
	}

	h := c.Services["hydrant"]
	require.NotNil(t, h.Build, "hydrant is built from the repository")
	require.Equal(t, ".", h.Build.Context)
	require.Equal(t, "Dockerfile", h.Build.Dockerfile)
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, h.Build.Context, h.Build.Dockerfile))
	require.NoError(t, err)
	require.Contains(t, string(dockerfile), "./cmd/hydrant")
	require.Contains(t, string(dockerfile), "EXPOSE 4575")
	require.Contains(t, string(dockerfile), `"serve", "--config", "/etc/hydrant/hydrant.yaml"`)
	require.Contains(t, h.mounts(), mount{source: "./configs/compose.yaml", target: "/etc/hydrant/hydrant.yaml"})
	require.Contains(t, h.DependsOn, "minio-setup")
	require.Contains(t, h.Ports, "127.0.0.1:4575:4575")

	for name, s := range c.Services {
		for _, m := range s.mounts() {
			if m.bind() {
				_, err := os.Stat(filepath.Join(repoRoot, m.source))
				require.NoError(t, err, "service %s mounts %s", name, m.source)
			} else {
				require.Contains(t, c.Volumes, m.source, "service %s uses an undeclared volume", name)
			}
		}
		for _, p := range s.Ports {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "service %s publishes %s beyond loopback", name, p)
		}
		for _, dep := range s.DependsOn {
			require.Contains(t, c.Services, dep, "service %s depends on an unknown service", name)
		}
	}
}

func TestCompose_PipelineConfigValidatesBuildsAndHasItsBuckets(t *testing.T) {
	cfg := loadComposeConfig(t)
	require.Equal(t, "0.0.0.0:4575", cfg.Server.Listen)
	require.Equal(t, "/var/lib/hydrant", cfg.Server.DataDir)
	require.Contains(t, loadCompose(t).Services["hydrant"].mounts(), mount{source: "hydrant-data", target: cfg.Server.DataDir})

	// serve would build exactly this; only the data directory moves.
	cfg.Server.DataDir = t.TempDir()
	a, err := build(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err, "serve must not refuse the compose pipeline")
	a.close()

	// Every bucket the pipeline writes to is created by minio-setup.
	setup := fmt.Sprint(loadCompose(t).Services["minio-setup"].Command)
	var buckets []string
	for _, p := range cfg.Pipelines {
		for _, d := range p.Destinations {
			for _, b := range []string{d.Bucket, d.Backup.Bucket} {
				if b != "" && !slices.Contains(buckets, b) {
					buckets = append(buckets, b)
				}
			}
		}
	}
	require.ElementsMatch(t, []string{"events", "events-backup"}, buckets)
	for _, b := range buckets {
		require.Contains(t, setup, "local/"+b, "minio-setup does not create bucket %s", b)
	}
}

func TestCompose_PrometheusScrapesHydrant(t *testing.T) {
	data, err := os.ReadFile(prometheusConfig)
	require.NoError(t, err)
	var pc struct {
		ScrapeConfigs []struct {
			JobName        string `yaml:"job_name"`
			MetricsPath    string `yaml:"metrics_path"`
			ScrapeInterval string `yaml:"scrape_interval"`
			StaticConfigs  []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(data, &pc))
	_, port, err := net.SplitHostPort(loadComposeConfig(t).Server.Listen)
	require.NoError(t, err)
	target := net.JoinHostPort("hydrant", port)

	var found bool
	for _, sc := range pc.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			if slices.Contains(st.Targets, target) {
				found = true
				require.Contains(t, []string{"", "/metrics"}, sc.MetricsPath)
				require.Equal(t, "5s", sc.ScrapeInterval)
			}
		}
	}
	require.True(t, found, "no scrape job targets %s", target)
	require.Contains(t, loadCompose(t).Services["prometheus"].mounts(),
		mount{source: "./deploy/prometheus/prometheus.yml", target: "/etc/prometheus/prometheus.yml"})
}

// dashboard is the part of the Grafana dashboard JSON the tests look at.
type dashboard struct {
	SchemaVersion int `json:"schemaVersion"`
	Panels        []struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(grafanaDashboard)
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(data, &d))
	return d
}

var metricNameRE = regexp.MustCompile(`hydrant_[a-z_]+`)

// baseName strips the series suffixes of a histogram.
func baseName(name string) string {
	for _, s := range []string{"_bucket", "_count", "_sum"} {
		if n, ok := strings.CutSuffix(name, s); ok {
			return n
		}
	}
	return name
}

// dashboardMetrics returns every hydrant metric the dashboard queries.
func dashboardMetrics(d dashboard) []string {
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	var names []string
	for _, e := range exprs {
		for _, n := range metricNameRE.FindAllString(e, -1) {
			if n = baseName(n); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

func TestCompose_GrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	data, err := os.ReadFile(grafanaDatasource)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &ds))
	require.Len(t, ds.Datasources, 1)
	require.Equal(t, "prometheus", ds.Datasources[0].Type)
	require.Equal(t, "http://prometheus:9090", ds.Datasources[0].URL)

	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	data, err = os.ReadFile(grafanaProvider)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &prov))
	require.Len(t, prov.Providers, 1)
	grafana := loadCompose(t).Services["grafana"].mounts()
	require.Contains(t, grafana, mount{source: "./deploy/grafana/dashboards", target: prov.Providers[0].Options.Path},
		"the provider reads the directory the dashboard is mounted at")
	require.Contains(t, grafana, mount{source: "./deploy/grafana/provisioning", target: "/etc/grafana/provisioning"})

	d := loadDashboard(t)
	require.GreaterOrEqual(t, d.SchemaVersion, 36)
	var queries int
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotNil(t, p.Datasource, "panel %q", p.Title)
		require.Equal(t, ds.Datasources[0].UID, p.Datasource.UID, "panel %q", p.Title)
		require.NotEmpty(t, p.Targets, "panel %q", p.Title)
		queries += len(p.Targets)
	}
	require.Greater(t, queries, 10)
}

// metricNames returns the names of every sample in a /metrics scrape, with
// histogram suffixes stripped.
func metricNames(body string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[baseName(line[:i])] = true
		}
	}
	return names
}

// TestCompose_DashboardQueriesOnlyMetricsTheServerExports runs a load that
// accepts, throttles, delivers and backs up records, then checks that every
// metric the Grafana dashboard queries has samples in /metrics.
func TestCompose_DashboardQueriesOnlyMetricsTheServerExports(t *testing.T) {
	want := dashboardMetrics(loadDashboard(t))
	for _, n := range []string{ // the panels the issue asks for
		"hydrant_incoming_records_total", "hydrant_incoming_bytes_total",
		"hydrant_delivery_records_total", "hydrant_delivery_bytes_total",
		"hydrant_delivery_data_freshness_seconds", "hydrant_stream_backlog_bytes",
		"hydrant_delivery_attempts_total", "hydrant_backup_records_total",
		"hydrant_throttled_records_total", "hydrant_http_request_duration_seconds",
	} {
		require.Contains(t, want, n)
	}

	// A budget below one request's size: the first request is admitted (the
	// check is soft), the next is throttled until delivery trims the log.
	a := testApp(t, t.TempDir(), `server:
  data_dir: %[1]s
  limits: { max_backlog_bytes: 1KiB }
stores:
  local: { type: directory, path: %[2]s }
pipelines:
  - name: events
    processors:
      - { type: jq_metadata, partition_keys: { customer_id: .customer_id } }
      - { type: append_delimiter }
    destinations:
      - name: lake
        type: directory
        store: local
        prefix: "customer=!{partitionKeyFromQuery:customer_id}/"
        error_output_prefix: "errors/!{firehose:error-output-type}/"
        buffer: { size: 1MiB, interval: 0s }
`)
	h := a.handler()
	put := func(body string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/streams/events/records", strings.NewReader(body)))
		return w.Code
	}

	var lines []string
	const good, bad = 64, 3
	for i := range good {
		lines = append(lines, fmt.Sprintf(`{"customer_id":"c%d","i":%d}`, i%4, i))
	}
	for i := range bad { // no partition key: backed up as partition-key-failed
		lines = append(lines, fmt.Sprintf(`{"i":%d}`, i))
	}
	require.Equal(t, http.StatusOK, put(strings.Join(lines, "\n")))
	require.Equal(t, http.StatusServiceUnavailable, put(`{"customer_id":"c0"}`), "over the disk budget")

	startDelivery(t, a)

	const delivered = `hydrant_delivery_records_total{destination="lake",pipeline="events",type="directory"}`
	const backedUp = `hydrant_backup_records_total{destination="lake",error_output_type="partition-key-failed",pipeline="events"}`
	waitScrape(t, h, map[string]string{delivered: fmt.Sprint(good), backedUp: fmt.Sprint(bad)})
	require.Equal(t, "1", scrape(t, h, `hydrant_throttled_records_total{pipeline="events"}`))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, w.Code)
	have := metricNames(w.Body.String())
	for _, n := range want {
		require.True(t, have[n], "the dashboard queries %s, which /metrics does not export", n)
	}
}
