package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the ingest-side counters, kept as Prometheus instruments on
// the server's own registry (never the global one). Delivery and stream
// figures are read at scrape time from the runtime's counters by
// statsCollector, so the hot paths do not update two sets of numbers.
// Names follow Firehose's CloudWatch metrics, snake-cased, prefixed hydrant_.
type metrics struct {
	reg             *prometheus.Registry
	incomingBytes   *prometheus.CounterVec
	incomingRecords *prometheus.CounterVec
	incomingPuts    *prometheus.CounterVec
	throttled       *prometheus.CounterVec
	requests        *prometheus.HistogramVec
}

func newMetrics(a *app) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		incomingBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hydrant_incoming_bytes_total",
			Help: "Bytes of record data accepted (durable), Firehose's IncomingBytes."}, []string{"pipeline"}),
		incomingRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hydrant_incoming_records_total",
			Help: "Records accepted (durable), Firehose's IncomingRecords."}, []string{"pipeline"}),
		incomingPuts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hydrant_incoming_put_requests_total",
			Help: "Accepted put requests, Firehose's IncomingPutRequests."}, []string{"pipeline"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hydrant_throttled_records_total",
			Help: "Records refused with ServiceUnavailableException (backpressure), Firehose's ThrottledRecords."}, []string{"pipeline"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hydrant_http_request_duration_seconds",
			Help:    "HTTP request latency by door and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"door", "code"}),
	}
	m.reg.MustRegister(m.incomingBytes, m.incomingRecords, m.incomingPuts, m.throttled, m.requests,
		statsCollector{a}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument times every request by door; labels stay bounded (a door
// name and a status class, never a path or a stream name).
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.requests.WithLabelValues(door(r), strconv.Itoa(sw.code/100)+"xx").Observe(time.Since(start).Seconds())
	})
}

// door names the endpoint family of a request.
func door(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/":
		return "firehose"
	case len(p) > len("/v1/streams/") && p[:len("/v1/streams/")] == "/v1/streams/":
		return "batch"
	case len(p) > len("/v1/firehose-endpoint/") && p[:len("/v1/firehose-endpoint/")] == "/v1/firehose-endpoint/":
		return "receiver"
	default:
		return "other"
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// statsCollector exports the delivery runtime's and the streams' counters.
type statsCollector struct{ a *app }

var (
	descDeliveryRecords = prometheus.NewDesc("hydrant_delivery_records_total",
		"Records delivered to the destination, Firehose's DeliveryTo*.Records.", []string{"pipeline", "destination", "type"}, nil)
	descDeliveryBytes = prometheus.NewDesc("hydrant_delivery_bytes_total",
		"Bytes delivered to the destination (after processing, before compression).", []string{"pipeline", "destination", "type"}, nil)
	descAttempts = prometheus.NewDesc("hydrant_delivery_attempts_total",
		"Sink write attempts by result, Firehose's DeliveryTo*.Success.", []string{"pipeline", "destination", "type", "result"}, nil)
	descFreshness = prometheus.NewDesc("hydrant_delivery_data_freshness_seconds",
		"Age of the oldest record read but not yet delivered, Firehose's DeliveryTo*.DataFreshness.", []string{"pipeline", "destination", "type"}, nil)
	descBackup = prometheus.NewDesc("hydrant_backup_records_total",
		"Records written to the backup, by error output type.", []string{"pipeline", "destination", "error_output_type"}, nil)
	descDropped = prometheus.NewDesc("hydrant_dropped_records_total",
		"Records a processor dropped (result Dropped).", []string{"pipeline", "destination"}, nil)
	descProcessing = prometheus.NewDesc("hydrant_execute_processing_duration_seconds",
		"Time spent in processor calls, Firehose's ExecuteProcessing.Duration.", []string{"pipeline", "destination"}, nil)
	descProcessingCalls = prometheus.NewDesc("hydrant_execute_processing_calls_total",
		"Processor calls by result, Firehose's ExecuteProcessing.Success.", []string{"pipeline", "destination", "result"}, nil)
	descSucceedConversion = prometheus.NewDesc("hydrant_succeed_conversion_records_total",
		"Records converted to Parquet or ORC and delivered, Firehose's SucceedConversion.Records.", []string{"pipeline", "destination"}, nil)
	descFailedConversion = prometheus.NewDesc("hydrant_failed_conversion_records_total",
		"Records that did not fit the schema, Firehose's FailedConversion.Records.", []string{"pipeline", "destination"}, nil)
	descPartitions = prometheus.NewDesc("hydrant_partition_count",
		"Active partitions (buffers) of a destination, Firehose's PartitionCount.", []string{"pipeline", "destination"}, nil)
	descBacklog = prometheus.NewDesc("hydrant_stream_backlog_bytes",
		"Bytes of the stream log a destination has not committed yet, per shard.", []string{"pipeline", "destination", "shard"}, nil)
	descBacklogRecords = prometheus.NewDesc("hydrant_stream_backlog_records",
		"Records a destination has not committed yet, per shard.", []string{"pipeline", "destination", "shard"}, nil)
	descStreamBytes = prometheus.NewDesc("hydrant_stream_disk_bytes",
		"Bytes of stream log segments on disk.", []string{"pipeline"}, nil)
	descDamagedRegions = prometheus.NewDesc("hydrant_stream_damaged_regions_total",
		"Damaged regions of the stream log skipped by readers (disk or file-system faults).", []string{"pipeline"}, nil)
	descLostRecords = prometheus.NewDesc("hydrant_stream_lost_records_total",
		"Acknowledged records in damaged regions of the stream log, unreadable.", []string{"pipeline"}, nil)
	descQuarantined = prometheus.NewDesc("hydrant_stream_quarantined_bytes_total",
		"Bytes of damaged log regions and cut torn tails copied to quarantine folders.", []string{"pipeline"}, nil)
	descLeases = prometheus.NewDesc("hydrant_leases_held",
		"Shards of a destination this node delivers (JetStream backend; each shard is leased to one node at a time).", []string{"pipeline", "destination", "node"}, nil)
	descRetentionDropped = prometheus.NewDesc("hydrant_stream_retention_dropped_records_total",
		"Records deleted by retention before every destination delivered them.", []string{"pipeline"}, nil)
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDeliveryRecords, descDeliveryBytes, descAttempts, descFreshness, descBackup,
		descDropped, descProcessing, descProcessingCalls, descSucceedConversion, descFailedConversion, descPartitions, descBacklog, descBacklogRecords, descStreamBytes, descRetentionDropped, descDamagedRegions, descLostRecords, descQuarantined, descLeases} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, p := range c.a.pipelines {
		ss := p.stream.Stats()
		gauge(descStreamBytes, float64(ss.Bytes), p.name)
		counter(descRetentionDropped, float64(ss.DroppedRecords), p.name)
		counter(descDamagedRegions, float64(ss.Damage.Regions), p.name)
		counter(descLostRecords, float64(ss.Damage.LostRecords), p.name)
		counter(descQuarantined, float64(ss.Damage.QuarantinedBytes), p.name)
		for _, d := range p.cfg.Destinations {
			st := p.delivery.Stats(d.Name)
			if st == nil {
				continue
			}
			s := st.Snapshot()
			counter(descDeliveryRecords, float64(s.DeliveredRecords), p.name, d.Name, d.Type)
			counter(descDeliveryBytes, float64(s.DeliveredBytes), p.name, d.Name, d.Type)
			counter(descAttempts, float64(s.SucceededAttempts), p.name, d.Name, d.Type, "success")
			counter(descAttempts, float64(s.FailedAttempts), p.name, d.Name, d.Type, "failure")
			gauge(descFreshness, st.Freshness(now).Seconds(), p.name, d.Name, d.Type)
			for typ, n := range s.BackedUpRecords {
				counter(descBackup, float64(n), p.name, d.Name, typ)
			}
			counter(descDropped, float64(s.DroppedRecords), p.name, d.Name)
			ch <- prometheus.MustNewConstSummary(descProcessing, uint64(s.ProcessingCalls), s.ProcessingTime.Seconds(), nil, p.name, d.Name)
			counter(descProcessingCalls, float64(s.ProcessingCalls-s.ProcessingFailed), p.name, d.Name, "success")
			counter(descProcessingCalls, float64(s.ProcessingFailed), p.name, d.Name, "failure")
			if d.Format.Columnar() {
				counter(descSucceedConversion, float64(s.DeliveredRecords), p.name, d.Name)
				counter(descFailedConversion, float64(s.BackedUpRecords[record.FormatConversionFailed]), p.name, d.Name)
			}
			gauge(descPartitions, float64(st.Partitions()), p.name, d.Name)
			if c.a.cluster != nil {
				gauge(descLeases, float64(len(c.a.cluster.Held(p.name, d.Name))), p.name, d.Name, c.a.cluster.Node())
			}
			for _, b := range p.stream.Backlog(d.Name) {
				gauge(descBacklog, float64(b.Bytes), p.name, d.Name, string(b.Shard))
				gauge(descBacklogRecords, float64(b.Records), p.name, d.Name, string(b.Shard))
			}
		}
	}
}
