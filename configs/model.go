package configs

import "strings"

// Config is a whole pipeline file. Field comments give each key's YAML
// name's meaning and its default (applied by Parse when the key is absent).
type Config struct {
	// Version is the file format version; 0 when absent, else must be 1.
	Version int `yaml:"version"`
	// Server holds the process-wide settings.
	Server Server `yaml:"server"`
	// Stores are named connections shared by destinations, keyed by name.
	// Parse may add the store DefaultBackupStore (see Backup).
	Stores map[string]Store `yaml:"stores"`
	// Pipelines are the delivery streams, in file order.
	Pipelines []Pipeline `yaml:"pipelines"`

	// File is the name the config was loaded from (for error messages).
	File string `yaml:"-"`
	// BaseDir is the directory relative paths in the file (wasm modules,
	// schemas) are resolved against: the config file's directory.
	BaseDir string `yaml:"-"`

	pos    map[string]Position // value position of every decoded path
	keyPos map[string]Position // position of the key that introduced a path
}

// Server holds the listener, the data directory, authentication and limits.
type Server struct {
	// Listen is the host:port of every HTTP door. Default "127.0.0.1:4575".
	Listen string `yaml:"listen"`
	// DataDir holds stream logs and checkpoints. Default "./var/hydrant".
	DataDir string `yaml:"data_dir"`
	// Auth is empty when the server is open.
	Auth Auth `yaml:"auth"`
	// Limits bound requests and the disk backlog.
	Limits Limits `yaml:"limits"`
	// StreamBackend selects where pipelines' streams live. Default: the
	// local log under DataDir.
	StreamBackend StreamBackend `yaml:"stream_backend"`
}

// Auth lists the accepted credentials. When both lists are empty the
// server is open.
type Auth struct {
	// APIKeys are accepted on every write door: "Authorization: Bearer KEY"
	// or "X-Api-Key: KEY" on the Firehose and batch doors,
	// X-Amz-Firehose-Access-Key on the receiver door. Entries must be
	// non-empty.
	APIKeys []string `yaml:"api_keys"`
	// AWSCredentials verify SigV4 signatures on the Firehose and batch
	// doors. Once either list is set, every write door requires a valid
	// credential (docs/security.md).
	AWSCredentials []AWSCredential `yaml:"aws_credentials"`
	// OpenMetrics leaves GET /metrics open while credentials are set (a
	// scraper that cannot send "Authorization: Bearer KEY"). Default
	// false: with any credential, /metrics needs one like /v1/pipelines.
	// Without credentials every read is open and this changes nothing.
	OpenMetrics bool `yaml:"open_metrics"`
}

// Enabled reports whether any credential is configured.
func (a Auth) Enabled() bool { return len(a.APIKeys) > 0 || len(a.AWSCredentials) > 0 }

// MetricsOpen reports whether GET /metrics answers without a credential.
func (a Auth) MetricsOpen() bool { return !a.Enabled() || a.OpenMetrics }

// AWSCredential is one access key pair accepted on the Firehose door.
type AWSCredential struct {
	AccessKeyID     string `yaml:"access_key_id"`     // required
	SecretAccessKey string `yaml:"secret_access_key"` // required
}

// Limits bound what one request may carry and how much undelivered data
// the server keeps on disk.
type Limits struct {
	// MaxRequestBytes caps a request body. Default 5MiB (Firehose allows
	// 4 MiB per PutRecordBatch; the rest is room for JSON and base64).
	MaxRequestBytes ByteSize `yaml:"max_request_bytes"`
	// MaxRecordBytes caps one record. Default 1000KiB (1,024,000 bytes, as
	// Firehose).
	MaxRecordBytes ByteSize `yaml:"max_record_bytes"`
	// MaxRecordsPerRequest caps the records of one Firehose
	// PutRecordBatch. Default 500. The batch and receiver doors are bounded
	// by MaxRequestBytes (docs/security.md).
	MaxRecordsPerRequest int `yaml:"max_records_per_request"`
	// MaxBacklogBytes caps the disk held by undelivered records; above it
	// ingest answers 503 ServiceUnavailableException. Default 10GiB.
	MaxBacklogBytes ByteSize `yaml:"max_backlog_bytes"`
	// ReadTimeout bounds reading one whole request, headers and body, so a
	// slow client cannot hold a connection forever. Default 1m.
	ReadTimeout Duration `yaml:"read_timeout"`
	// IdleTimeout closes a keep-alive connection with no request for that
	// long. Default 2m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections caps open client connections; more wait to be
	// accepted. Default 1024.
	MaxConnections int `yaml:"max_connections"`
	// MaxInflightBytes caps the request body bytes all requests hold at
	// once (received, and inflated from gzip); past it a request answers
	// 503 ServiceUnavailableException with Retry-After. Default 256MiB.
	MaxInflightBytes ByteSize `yaml:"max_inflight_bytes"`
}

// Stream backend types.
const (
	StreamBackendLocal     = "local"
	StreamBackendJetStream = "jetstream"
)

// StreamBackend selects where pipelines' streams live. Absent (or type
// local) = the embedded local log under data_dir; jetstream = a NATS
// JetStream cluster shared by several Hydrant nodes (docs/scaling.md).
// Every key but Type applies to jetstream only; validation rejects them
// with local.
type StreamBackend struct {
	// Type is local or jetstream. Default local.
	Type string `yaml:"type"`
	// URLs are the NATS servers: nats://, tls://, ws:// or wss:// URLs
	// with a host, one per entry, not mixing websocket and plain ones.
	// Required (at least one).
	URLs []string `yaml:"urls"`
	// Replicas is the replica count of the streams and key-value buckets
	// Hydrant creates, 1..5. Default 1.
	Replicas int `yaml:"replicas"`
	// Node is this node's name in leases, [a-zA-Z0-9_-]{1,64}. Empty here
	// means the runtime picks hostname-port; Parse sets no default.
	Node string `yaml:"node"`
	// LeaseTTL is how long a delivery lease lives without renewal,
	// 1s..5m. Default 10s.
	LeaseTTL Duration `yaml:"lease_ttl"`
	// PublishTimeout is how long an append waits for JetStream's
	// acknowledgement, at least 100ms. Default 10s.
	PublishTimeout Duration `yaml:"publish_timeout"`
	// CredentialsFile is a NATS .creds file (JWT and nkey seed), relative
	// to the config file (see Config.Resolve). It excludes User, Password
	// and Token.
	CredentialsFile string `yaml:"credentials_file"`
	// User and Password authenticate together; Token excludes them.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	// TLS is the client TLS of the NATS connection.
	TLS BackendTLS `yaml:"tls"`
}

// BackendTLS is the client TLS of the NATS connection. Files are PEM,
// relative to the config file (see Config.Resolve); CertFile and KeyFile
// are set together.
type BackendTLS struct {
	CAFile   string `yaml:"ca_file"`   // authorities to trust
	CertFile string `yaml:"cert_file"` // client certificate
	KeyFile  string `yaml:"key_file"`  // its private key
}

// JetStream reports whether pipelines' streams live on NATS JetStream.
func (b StreamBackend) JetStream() bool { return b.Type == StreamBackendJetStream }

// Store types.
const (
	StoreS3         = "s3"
	StoreDirectory  = "directory"
	StorePostgres   = "postgres"
	StoreOpenSearch = "opensearch"
	StoreIceberg    = "iceberg"
)

// Store is a named connection. It carries the union of the fields of every
// store type; validation rejects fields that do not belong to Type.
type Store struct {
	// Type is s3, directory, postgres, opensearch or iceberg. Required.
	Type string `yaml:"type"`

	// s3: Endpoint is the S3 API URL (empty = AWS), Region defaults to
	// "us-east-1", PathStyle addresses buckets as URL paths (MinIO).
	Endpoint        string `yaml:"endpoint"`
	Region          string `yaml:"region"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	PathStyle       bool   `yaml:"path_style"`

	// directory: Path is the root of an S3-like layout on local disk
	// (bucket = subdirectory). Required.
	Path string `yaml:"path"`

	// postgres (also used by redshift destinations): DSN is a libpq URL or
	// keyword string. Required.
	DSN string `yaml:"dsn"`

	// opensearch: Addresses are the node URLs (required); Username and
	// Password enable basic auth.
	Addresses []string `yaml:"addresses"`
	Username  string   `yaml:"username"`
	Password  string   `yaml:"password"`
	// opensearch: CAFile is a PEM file of authorities to trust (relative
	// to the config file); InsecureSkipVerify turns certificate checks off.
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`

	// iceberg: Catalog is "sql" or "rest" (required); URI locates the
	// catalog (a database URL for sql, an HTTP URL for rest; required);
	// Warehouse is the table location root; Store names the s3 or directory
	// store that holds data files (required).
	// Warehouse is s3://bucket/path on an s3 store (required there), or
	// file:///path on a directory store (default: the store's path +
	// /warehouse). Credential ("client_id:secret", OAuth) and Token
	// (bearer) authenticate to a rest catalog.
	Catalog    string `yaml:"catalog"`
	URI        string `yaml:"uri"`
	Warehouse  string `yaml:"warehouse"`
	Store      string `yaml:"store"`
	Credential string `yaml:"credential"`
	Token      string `yaml:"token"`
}

// Pipeline is one delivery stream: a durable sharded stream, processors
// and one or more destinations that each read it with their own checkpoint.
type Pipeline struct {
	// Name is the Firehose DeliveryStreamName: [a-zA-Z0-9_.-]{1,64}, unique.
	Name string `yaml:"name"`
	// Stream configures the durable log records are appended to.
	Stream Stream `yaml:"stream"`
	// Processors apply in order to every flushed batch of every destination,
	// before that destination's own processors and format conversion.
	Processors []Processor `yaml:"processors"`
	// Destinations: at least one.
	Destinations []Destination `yaml:"destinations"`
}

// Stream configures a pipeline's log. In YAML, shards is an integer or the
// string "on-demand".
type Stream struct {
	// Shards is the shard count (1..1024). Default 2. With OnDemand it is
	// the initial count.
	Shards int `yaml:"shards"`
	// OnDemand is set by shards: on-demand: hot shards split, cold ones merge.
	OnDemand bool `yaml:"-"`
	// Retention is how long records stay in the log. Default 24h.
	Retention Duration `yaml:"retention"`
	// PartitionKey is a jq expression giving the record's key (which picks
	// its shard). Default empty: a random key per Firehose record.
	PartitionKey string `yaml:"partition_key"`
}

// Processor types.
const (
	ProcessorJQMetadata      = "jq_metadata"
	ProcessorWasm            = "wasm"
	ProcessorLambda          = "lambda"
	ProcessorExec            = "exec"
	ProcessorDeaggregate     = "deaggregate"
	ProcessorAppendDelimiter = "append_delimiter"
	ProcessorDecompress      = "decompress"
)

// Processor is one step of a processing chain. It carries the union of the
// fields of every processor type; validation rejects fields that do not
// belong to Type.
type Processor struct {
	// Type is jq_metadata, wasm, lambda, exec, deaggregate,
	// append_delimiter or decompress (gunzip, e.g. CloudWatch Logs). Required.
	Type string `yaml:"type"`

	// jq_metadata: partition key name -> jq expression (required, non-empty).
	PartitionKeys map[string]string `yaml:"partition_keys"`

	// wasm: Module is a path relative to the config file (required);
	// MemoryLimit defaults to 64MiB (64KiB..4GiB).
	Module      string   `yaml:"module"`
	MemoryLimit ByteSize `yaml:"memory_limit"`

	// wasm, lambda, exec: Timeout bounds one batch. Defaults: wasm 5s,
	// lambda 60s, exec 60s.
	Timeout Duration `yaml:"timeout"`

	// lambda: URL receives the Firehose transform request (required).
	// lambda, exec: Retries is the number of retries of a failed
	// invocation (0..300, default 3, as Firehose's NumberOfRetries).
	URL     string `yaml:"url"`
	Retries int    `yaml:"retries"`

	// exec: Command is argv of a long-lived process (required, non-empty).
	// Env is the child's environment (name: value) besides PATH, which it
	// inherits unless Env sets it: Hydrant's other variables (credentials,
	// API keys) are not passed on. Names are [A-Za-z_][A-Za-z0-9_]*.
	Command []string          `yaml:"command"`
	Env     map[string]string `yaml:"env"`

	// decompress: MaxRecordBytes fails a record that inflates to more
	// (default 64MiB); MaxBatchBytes bounds what one processor call
	// inflates in all (default 128MiB, at least MaxRecordBytes): records
	// past it fail as processing-failed. Both 1KiB..4GiB.
	MaxRecordBytes ByteSize `yaml:"max_record_bytes"`
	MaxBatchBytes  ByteSize `yaml:"max_batch_bytes"`

	// append_delimiter: Delimiter is appended to every record. Default "\n".
	// deaggregate with mode delimited: the delimiter records are split on
	// (required there).
	Delimiter string `yaml:"delimiter"`

	// deaggregate: Mode is "kpl" (KPL aggregated records, the default),
	// "json" (concatenated JSON objects) or "delimited" (split on Delimiter),
	// as Firehose's RecordDeAggregation SubRecordType.
	Mode string `yaml:"mode"`
}

// Deaggregation modes.
const (
	DeaggregateKPL       = "kpl"
	DeaggregateJSON      = "json"
	DeaggregateDelimited = "delimited"
)

// Destination types.
const (
	DestS3         = "s3"
	DestDirectory  = "directory"
	DestPostgres   = "postgres"
	DestRedshift   = "redshift"
	DestOpenSearch = "opensearch"
	DestHTTP       = "http"
	DestIceberg    = "iceberg"
	// DestDiscard counts records and writes nothing: a sink for
	// benchmarks and for trying a pipeline out.
	DestDiscard = "discard"
)

// Destination is where a pipeline delivers. It carries the union of the
// fields of every destination type; validation rejects fields that do not
// belong to Type.
type Destination struct {
	// Name is [a-zA-Z0-9_-]{1,64}, unique within the pipeline. Required.
	Name string `yaml:"name"`
	// Type is s3, directory, postgres, redshift, opensearch, http or
	// iceberg. Required.
	Type string `yaml:"type"`
	// Store names a store: s3 or directory for s3/directory destinations,
	// postgres for postgres/redshift, opensearch, iceberg. Required except
	// for http.
	Store string `yaml:"store"`
	// Bucket is required when the store is s3; with a directory store it
	// is an optional subdirectory.
	Bucket string `yaml:"bucket"`
	// Prefix is the object key template (s3, directory). Default "": the
	// sink appends yyyy/MM/dd/HH/ when the prefix has no timestamp or
	// partition key expression.
	Prefix string `yaml:"prefix"`
	// ErrorOutputPrefix is where failed records are written in the backup
	// store; it must contain !{firehose:error-output-type}. Default
	// DefaultErrorOutputPrefix.
	ErrorOutputPrefix string `yaml:"error_output_prefix"`
	// Buffer is the flush policy. Defaults: see Buffer.
	Buffer Buffer `yaml:"buffer"`
	// Format is the object format (s3, directory, iceberg).
	Format Format `yaml:"format"`
	// Compression applies to json objects (s3, directory): none, gzip,
	// snappy, hadoop_snappy, zip or zstd. Default none.
	Compression string `yaml:"compression"`
	// MaxActivePartitions caps the partitions (distinct evaluated prefixes)
	// buffered at once per shard, for dynamic partitioning (s3,
	// directory). Records past it go to the backup as
	// active-partition-exceeded. Default 500 (Firehose's default; it allows
	// up to 5,000 on request); at most 10,000.
	MaxActivePartitions int `yaml:"max_active_partitions"`
	// Retry is the retry window.
	Retry Retry `yaml:"retry"`
	// Backup says where failed (or all) records go.
	Backup Backup `yaml:"backup"`
	// Processors run after the pipeline's processors, for this
	// destination only.
	Processors []Processor `yaml:"processors"`

	// opensearch: Index is required; Rotation is none, one_hour, one_day,
	// one_week or one_month (default one_day); DocumentID is a jq
	// expression (empty = server-assigned ids).
	Index      string `yaml:"index"`
	Rotation   string `yaml:"rotation"`
	DocumentID string `yaml:"document_id"`
	// MaxBulkBytes bounds one _bulk request (default 5MiB).
	MaxBulkBytes ByteSize `yaml:"max_bulk_bytes"`

	// postgres, redshift, iceberg: Table (schema.table) is required.
	Table string `yaml:"table"`
	// iceberg: PartitionBy is the partition spec of a table the sink
	// creates: column names (identity) and year(col), month(col),
	// day(col), hour(col), bucket(N, col), truncate(W, col). An existing
	// table keeps its own spec.
	PartitionBy []string `yaml:"partition_by"`
	// postgres, redshift: Columns map column names to jq expressions, in
	// file order. For postgres, none means DefaultPostgresColumn; for
	// redshift, the COPY column list (optional, as with JSON 'auto').
	Columns Columns `yaml:"columns"`
	// postgres: CreateTable creates the table (and its schema) from
	// Columns when it is missing.
	CreateTable bool `yaml:"create_table"`
	// redshift: Staging is where batches are staged for COPY (required);
	// CopyOptions is appended to the COPY command; IAMRole is the role
	// Redshift reads the staging bucket with (default: the staging
	// store's access keys); Load is copy (Redshift's COPY FROM the
	// manifest, default) or stdin (read the staged files back and COPY
	// FROM STDIN: the same flow on PostgreSQL).
	Staging     Location `yaml:"staging"`
	CopyOptions string   `yaml:"copy_options"`
	IAMRole     string   `yaml:"iam_role"`
	Load        string   `yaml:"load"`

	// http: URL is required; AccessKey is sent as X-Amz-Firehose-Access-Key;
	// ContentEncoding is none or gzip (default none); CommonAttributes are
	// sent with every request.
	URL              string            `yaml:"url"`
	AccessKey        string            `yaml:"access_key"`
	ContentEncoding  string            `yaml:"content_encoding"`
	CommonAttributes map[string]string `yaml:"common_attributes"`
	// http: MaxBodyBytes caps one request body (default 64MiB, Firehose's;
	// keep it at or below the receiver's limit: another Hydrant takes
	// 8MiB); Timeout bounds one attempt (default 3m); CAFile is a PEM
	// file of authorities to trust besides the system's.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	Timeout      Duration `yaml:"timeout"`
	CAFile       string   `yaml:"ca_file"`
}

// Buffer is a flush policy: a buffer flushes when it holds Size bytes or
// its oldest record is Interval old, whichever comes first.
type Buffer struct {
	// Size is 1MiB..128MiB. Default 5MiB; 128MiB for s3/directory
	// destinations writing parquet or orc (as Firehose).
	Size ByteSize `yaml:"size"`
	// Interval is 0..900s; 0 delivers at once. Default 300s.
	Interval Duration `yaml:"interval"`
	// MaxBytes caps the bytes buffered per shard over all of a
	// destination's partitions (dynamic partitioning keeps one buffer per
	// prefix); past it the biggest partitions flush early. At least Size.
	// Default DefaultBufferMaxBytes, or Size when that is larger (so a
	// converted destination holds Firehose's 128MiB).
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// Format selects the object format.
type Format struct {
	// Type is json, parquet or orc. Default json; parquet for iceberg.
	Type string `yaml:"type"`
	// Schema is a schema file relative to the config file; required for
	// parquet and orc on s3/directory destinations.
	Schema string `yaml:"schema"`
	// Compression is for parquet (none, snappy, gzip, zstd) and orc (none,
	// snappy, zlib, zstd). Default snappy (as Firehose). Not allowed for json.
	Compression string `yaml:"compression"`
}

// Columnar reports whether records are converted (parquet or orc) rather
// than written as they are (json).
func (f Format) Columnar() bool {
	return f.Type == "parquet" || f.Type == "orc"
}

// Retry is a retry window.
type Retry struct {
	// Duration is how long a failing batch is retried before its records
	// go to the backup as failed; 0 = no retries. Defaults: 24h for
	// s3/directory (0..24h), 3600s for redshift and 300s for the others
	// (0..7200s), as Firehose.
	Duration Duration `yaml:"duration"`
}

// Backup modes.
const (
	BackupFailedOnly = "failed_only"
	BackupAll        = "all"
)

// Backup locates failed records (under the destination's
// error_output_prefix) and, with mode all, a copy of every source record
// (under Prefix).
type Backup struct {
	// Store is an s3 or directory store. Default: the destination's own
	// store and bucket for s3/directory, the staging store and bucket for
	// redshift, else DefaultBackupStore.
	Store string `yaml:"store"`
	// Bucket is required when Store is s3 (defaulted with Store).
	Bucket string `yaml:"bucket"`
	// Prefix is the key template of source backups (mode all). Default
	// DefaultBackupPrefix.
	Prefix string `yaml:"prefix"`
	// Mode is failed_only or all. Default failed_only.
	Mode string `yaml:"mode"`
}

// Location is an object store location.
type Location struct {
	Store  string `yaml:"store"`  // an s3 or directory store; required
	Bucket string `yaml:"bucket"` // required when Store is s3
	Prefix string `yaml:"prefix"` // key prefix; no expressions
}

// Column maps one table column to a jq expression.
type Column struct {
	Name  string
	Query string
	// Type is the SQL type create_table gives the column; "" = inferred.
	Type string
}

// Load modes of a redshift destination.
const (
	RedshiftLoadCopy  = "copy"
	RedshiftLoadStdin = "stdin"
)

// DefaultPostgresColumn is a postgres destination's mapping when it
// names no columns: the whole record into a jsonb column "data".
var DefaultPostgresColumn = Column{Name: "data", Query: ".", Type: "jsonb"}

// Columns is an ordered column mapping; in YAML a mapping
// {column: jq expression} or {column: {query: jq expression, type: sql type}}.
type Columns []Column

// Pos returns the position of the value at path (e.g.
// "pipelines[0].destinations[1].buffer.size"). When the path was not in the
// file (a default, a missing key), it returns the position of its nearest
// ancestor that was, so that errors about it still point somewhere useful.
func (c *Config) Pos(path string) Position {
	for {
		if p, ok := c.pos[path]; ok {
			return p
		}
		if path == "" {
			return Position{}
		}
		path = parentPath(path)
	}
}

// Has reports whether path was present in the file.
func (c *Config) Has(path string) bool {
	_, ok := c.pos[path]
	return ok
}

// Errorf returns an *Error for path positioned like Pos(path), so that
// checks outside this package (a sink not built yet, a failed connection)
// report FILE:LINE:COL: path: message too.
func (c *Config) Errorf(path, format string, args ...any) *Error {
	l := errorList{file: c.File}
	l.add(c.Pos(path), path, format, args...)
	return l.errs[0]
}

// parentPath strips the last element: a.b[2] -> a.b, a.b -> a, a -> "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}
