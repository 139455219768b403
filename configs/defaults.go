package configs

import (
	"fmt"
	"time"
)

// Defaults applied by Parse to keys absent from the file. Where a value
// comes from Amazon Data Firehose, the comment says so.
const (
	DefaultListen               = "127.0.0.1:4575"
	DefaultDataDir              = "./var/hydrant"
	DefaultMaxRequestBytes      = 5 * MiB
	DefaultMaxRecordBytes       = 1000 * KiB // 1,024,000 bytes: Firehose's record limit
	DefaultMaxRecordsPerRequest = 500        // Firehose's PutRecordBatch limit
	DefaultMaxBacklogBytes      = 10 * GiB
	DefaultReadTimeout          = Duration(time.Minute)
	DefaultIdleTimeout          = Duration(2 * time.Minute)
	DefaultMaxConnections       = 1024
	// DefaultRedshiftCopyOptions reads what the redshift sink stages:
	// gzip'd JSON lines.
	DefaultRedshiftCopyOptions = "FORMAT AS JSON 'auto' GZIP"
	DefaultMaxInflightBytes    = 256 * MiB

	// Defaults of server.stream_backend with type: jetstream.
	DefaultBackendReplicas       = 1
	DefaultBackendLeaseTTL       = Duration(10 * time.Second)
	DefaultBackendPublishTimeout = Duration(10 * time.Second)

	DefaultShards    = 2
	DefaultRetention = Duration(24 * time.Hour)

	// DefaultBufferSize and DefaultBufferInterval are Firehose's S3,
	// OpenSearch, HTTP endpoint, Redshift and Iceberg buffering hints.
	DefaultBufferSize     = 5 * MiB
	DefaultBufferInterval = Duration(300 * time.Second)
	// DefaultBufferMaxBytes caps the bytes buffered per shard over all of a
	// destination's partitions (buffer.max_bytes); raised to buffer.size
	// when that is larger.
	DefaultBufferMaxBytes = 32 * MiB
	// DefaultMaxActivePartitions is Firehose's default active-partition
	// quota; MaxActivePartitions bounds what a file may ask for.
	DefaultMaxActivePartitions = 500
	MaxActivePartitions        = 10000
	// DefaultConvertedBufferSize is Firehose's buffer size when format
	// conversion (parquet, orc) is on.
	DefaultConvertedBufferSize = 128 * MiB

	// DefaultObjectRetry is the retry window of s3 and directory
	// destinations (Firehose retries S3 for 24 h).
	DefaultObjectRetry = Duration(24 * time.Hour)
	// DefaultRedshiftRetry is Firehose's Redshift retry duration.
	DefaultRedshiftRetry = Duration(3600 * time.Second)
	// DefaultRetry is the retry window of the other destinations
	// (Firehose's OpenSearch and HTTP endpoint default).
	DefaultRetry = Duration(300 * time.Second)

	DefaultCompression       = "none"
	DefaultFormat            = "json"
	DefaultFormatCompression = "snappy" // Firehose's parquet and orc default
	DefaultRotation          = "one_day"
	DefaultMaxBulkBytes      = 5 * MiB
	DefaultMaxBodyBytes      = 64 * MiB
	DefaultHTTPTimeout       = Duration(3 * time.Minute)
	DefaultContentEncoding   = "none"
	DefaultBackupMode        = BackupFailedOnly
	// DefaultBackupPrefix is where mode: all writes source records.
	DefaultBackupPrefix = "source/"
	// DefaultErrorOutputPrefix is where failed records go in the backup
	// store.
	DefaultErrorOutputPrefix = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
	// DefaultBackupStore names the directory store, rooted at
	// <data_dir>/backup, that Parse adds when a destination without an
	// object store of its own (postgres, opensearch, http, iceberg) sets no
	// backup.store. A store of that name in the file is used instead.
	DefaultBackupStore = "hydrant-backup"

	DefaultS3Region        = "us-east-1"
	DefaultWasmTimeout     = Duration(5 * time.Second)
	DefaultWasmMemoryLimit = 64 * MiB
	DefaultLambdaTimeout   = Duration(60 * time.Second)
	DefaultLambdaRetries   = 3 // Firehose's NumberOfRetries
	DefaultExecTimeout     = Duration(60 * time.Second)
	// DefaultDecompressRecordBytes and DefaultDecompressBatchBytes are
	// builtin.DefaultMaxRecordBytes and DefaultMaxBatchBytes (see there
	// why).
	DefaultDecompressRecordBytes = 64 * MiB
	DefaultDecompressBatchBytes  = 128 * MiB
	DefaultDelimiter             = "\n"
)

// applyDefaults fills every key absent from the file. It runs before
// validation so that validation sees the effective values.
func (c *Config) applyDefaults() {
	setStr(c, "server.listen", &c.Server.Listen, DefaultListen)
	setStr(c, "server.data_dir", &c.Server.DataDir, DefaultDataDir)
	lim := &c.Server.Limits
	setVal(c, "server.limits.max_request_bytes", &lim.MaxRequestBytes, DefaultMaxRequestBytes)
	setVal(c, "server.limits.max_record_bytes", &lim.MaxRecordBytes, DefaultMaxRecordBytes)
	setVal(c, "server.limits.max_records_per_request", &lim.MaxRecordsPerRequest, DefaultMaxRecordsPerRequest)
	setVal(c, "server.limits.max_backlog_bytes", &lim.MaxBacklogBytes, DefaultMaxBacklogBytes)
	setVal(c, "server.limits.read_timeout", &lim.ReadTimeout, DefaultReadTimeout)
	setVal(c, "server.limits.idle_timeout", &lim.IdleTimeout, DefaultIdleTimeout)
	setVal(c, "server.limits.max_connections", &lim.MaxConnections, DefaultMaxConnections)
	setVal(c, "server.limits.max_inflight_bytes", &lim.MaxInflightBytes, DefaultMaxInflightBytes)
	sb := &c.Server.StreamBackend
	setStr(c, "server.stream_backend.type", &sb.Type, StreamBackendLocal)
	if sb.JetStream() { // Node has no default here: the runtime picks hostname-port
		setVal(c, "server.stream_backend.replicas", &sb.Replicas, DefaultBackendReplicas)
		setVal(c, "server.stream_backend.lease_ttl", &sb.LeaseTTL, DefaultBackendLeaseTTL)
		setVal(c, "server.stream_backend.publish_timeout", &sb.PublishTimeout, DefaultBackendPublishTimeout)
	}

	for name, s := range c.Stores {
		if s.Type == StoreS3 {
			setStr(c, keyPath(keyPath("stores", name), "region"), &s.Region, DefaultS3Region)
			c.Stores[name] = s
		}
	}

	for i := range c.Pipelines {
		p := &c.Pipelines[i]
		pp := fmt.Sprintf("pipelines[%d]", i)
		if !p.Stream.OnDemand {
			setVal(c, pp+".stream.shards", &p.Stream.Shards, DefaultShards)
		} else if p.Stream.Shards == 0 {
			p.Stream.Shards = DefaultShards
		}
		setVal(c, pp+".stream.retention", &p.Stream.Retention, DefaultRetention)
		c.processorDefaults(pp+".processors", p.Processors)
		for j := range p.Destinations {
			c.destinationDefaults(fmt.Sprintf("%s.destinations[%d]", pp, j), &p.Destinations[j])
		}
	}
}

func (c *Config) processorDefaults(path string, ps []Processor) {
	for i := range ps {
		p := &ps[i]
		pp := fmt.Sprintf("%s[%d]", path, i)
		switch p.Type {
		case ProcessorWasm:
			setVal(c, pp+".timeout", &p.Timeout, DefaultWasmTimeout)
			setVal(c, pp+".memory_limit", &p.MemoryLimit, DefaultWasmMemoryLimit)
		case ProcessorLambda:
			setVal(c, pp+".timeout", &p.Timeout, DefaultLambdaTimeout)
			setVal(c, pp+".retries", &p.Retries, DefaultLambdaRetries)
		case ProcessorExec:
			setVal(c, pp+".timeout", &p.Timeout, DefaultExecTimeout)
			setVal(c, pp+".retries", &p.Retries, DefaultLambdaRetries)
		case ProcessorAppendDelimiter:
			setVal(c, pp+".delimiter", &p.Delimiter, DefaultDelimiter)
		case ProcessorDeaggregate:
			setStr(c, pp+".mode", &p.Mode, DeaggregateKPL)
		case ProcessorDecompress:
			setVal(c, pp+".max_record_bytes", &p.MaxRecordBytes, DefaultDecompressRecordBytes)
			setVal(c, pp+".max_batch_bytes", &p.MaxBatchBytes, DefaultDecompressBatchBytes)
		}
	}
}

func (c *Config) destinationDefaults(dp string, d *Destination) {
	object := d.Type == DestS3 || d.Type == DestDirectory
	if object || d.Type == DestIceberg {
		format := DefaultFormat
		if d.Type == DestIceberg {
			format = "parquet"
		}
		setStr(c, dp+".format.type", &d.Format.Type, format)
		if d.Format.Columnar() {
			setStr(c, dp+".format.compression", &d.Format.Compression, DefaultFormatCompression)
		}
	}
	if object {
		setStr(c, dp+".compression", &d.Compression, DefaultCompression)
		setVal(c, dp+".max_active_partitions", &d.MaxActivePartitions, DefaultMaxActivePartitions)
	}
	size := DefaultBufferSize
	if object && d.Format.Columnar() {
		size = DefaultConvertedBufferSize
	}
	setVal(c, dp+".buffer.size", &d.Buffer.Size, size)
	setVal(c, dp+".buffer.interval", &d.Buffer.Interval, DefaultBufferInterval)
	setVal(c, dp+".buffer.max_bytes", &d.Buffer.MaxBytes, max(DefaultBufferMaxBytes, d.Buffer.Size))

	retry := DefaultRetry
	switch d.Type {
	case DestS3, DestDirectory:
		retry = DefaultObjectRetry
	case DestRedshift:
		retry = DefaultRedshiftRetry
	}
	setVal(c, dp+".retry.duration", &d.Retry.Duration, retry)

	switch d.Type {
	case DestPostgres:
		if len(d.Columns) == 0 {
			d.Columns = Columns{DefaultPostgresColumn}
		}
	case DestRedshift:
		setStr(c, dp+".load", &d.Load, RedshiftLoadCopy)
		setStr(c, dp+".copy_options", &d.CopyOptions, DefaultRedshiftCopyOptions)
	case DestOpenSearch:
		setStr(c, dp+".rotation", &d.Rotation, DefaultRotation)
		setVal(c, dp+".max_bulk_bytes", &d.MaxBulkBytes, DefaultMaxBulkBytes)
	case DestHTTP:
		setStr(c, dp+".content_encoding", &d.ContentEncoding, DefaultContentEncoding)
		setVal(c, dp+".max_body_bytes", &d.MaxBodyBytes, DefaultMaxBodyBytes)
		setVal(c, dp+".timeout", &d.Timeout, DefaultHTTPTimeout)
	}

	setStr(c, dp+".error_output_prefix", &d.ErrorOutputPrefix, DefaultErrorOutputPrefix)
	setStr(c, dp+".backup.mode", &d.Backup.Mode, DefaultBackupMode)
	setVal(c, dp+".backup.prefix", &d.Backup.Prefix, DefaultBackupPrefix)
	if d.Backup.Store == "" {
		switch {
		case object:
			d.Backup.Store, d.Backup.Bucket = d.Store, d.Bucket
		case d.Type == DestRedshift:
			d.Backup.Store, d.Backup.Bucket = d.Staging.Store, d.Staging.Bucket
		default:
			d.Backup.Store = DefaultBackupStore
			if _, ok := c.Stores[DefaultBackupStore]; !ok {
				if c.Stores == nil {
					c.Stores = map[string]Store{}
				}
				c.Stores[DefaultBackupStore] = Store{Type: StoreDirectory, Path: c.Server.DataDir + "/backup"}
			}
		}
	}
	c.processorDefaults(dp+".processors", d.Processors)
}

// setVal sets *dst to def when path was absent from the file.
func setVal[T any](c *Config, path string, dst *T, def T) {
	if !c.Has(path) {
		*dst = def
	}
}

// setStr sets *dst to def when path was absent or empty.
func setStr(c *Config, path string, dst *string, def string) {
	if !c.Has(path) || *dst == "" {
		*dst = def
	}
}
