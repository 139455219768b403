package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
)

// StatFunc checks that a file referenced by the config exists; os.Stat
// wrapped to return only the error is the default. Tests substitute their own.
type StatFunc func(path string) error

func osStat(path string) error {
	_, err := os.Stat(path)
	return err
}

// Ranges enforced by Validate (Firehose's, where Firehose has one).
const (
	MinBufferSize      = 1 * MiB
	MaxBufferSize      = 128 * MiB
	MaxBufferInterval  = Duration(900 * time.Second)
	MaxShards          = 1024
	MaxObjectRetry     = Duration(24 * time.Hour)     // s3, directory
	MaxRetry           = Duration(7200 * time.Second) // every other destination
	MaxPrefixLength    = 1024
	MaxLambdaRetries   = 300
	MaxLambdaTimeout   = Duration(15 * time.Minute)
	MinWasmMemoryLimit = 64 * KiB
	MaxWasmMemoryLimit = 4 * GiB
	MinDecompressBytes = 1 * KiB
	MaxDecompressBytes = 4 * GiB
	// server.stream_backend with type: jetstream.
	MaxBackendReplicas       = 5
	MinBackendLeaseTTL       = Duration(time.Second)
	MaxBackendLeaseTTL       = Duration(5 * time.Minute)
	MinBackendPublishTimeout = Duration(100 * time.Millisecond)
)

var (
	pipelineNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
	envNameRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	componentRE    = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
)

// Keys that apply to each store, processor and destination type, beyond
// "type" (and, for destinations, the common keys).
var (
	storeKeys = map[string][]string{
		StoreS3:         {"endpoint", "region", "access_key_id", "secret_access_key", "path_style"},
		StoreDirectory:  {"path"},
		StorePostgres:   {"dsn"},
		StoreOpenSearch: {"addresses", "username", "password", "ca_file", "insecure_skip_verify"},
		StoreIceberg:    {"catalog", "uri", "warehouse", "store", "credential", "token"},
	}
	processorKeys = map[string][]string{
		ProcessorJQMetadata:      {"partition_keys"},
		ProcessorWasm:            {"module", "timeout", "memory_limit"},
		ProcessorLambda:          {"url", "timeout", "retries"},
		ProcessorExec:            {"command", "env", "timeout", "retries"},
		ProcessorDeaggregate:     {"mode", "delimiter"},
		ProcessorAppendDelimiter: {"delimiter"},
		ProcessorDecompress:      {"max_record_bytes", "max_batch_bytes"},
	}
	destCommonKeys = []string{"name", "type", "buffer", "retry", "backup", "processors", "error_output_prefix"}
	destKeys       = map[string][]string{
		DestS3:         {"store", "bucket", "prefix", "format", "compression", "max_active_partitions"},
		DestDirectory:  {"store", "bucket", "prefix", "format", "compression", "max_active_partitions"},
		DestPostgres:   {"store", "table", "columns", "create_table"},
		DestRedshift:   {"store", "table", "columns", "staging", "copy_options", "iam_role", "load"},
		DestOpenSearch: {"store", "index", "rotation", "document_id", "max_bulk_bytes"},
		DestHTTP:       {"url", "access_key", "content_encoding", "common_attributes", "max_body_bytes", "timeout", "ca_file"},
		DestIceberg:    {"store", "table", "format", "partition_by"},
		DestDiscard:    nil,
	}
	compressions       = []string{"none", "gzip", "snappy", "hadoop_snappy", "zip", "zstd"}
	formats            = []string{"json", "parquet", "orc"}
	formatCompressions = map[string][]string{
		"parquet": {"none", "snappy", "gzip", "zstd"},
		"orc":     {"none", "snappy", "zlib", "zstd"},
	}
	rotations        = []string{"none", "one_hour", "one_day", "one_week", "one_month"}
	backupModes      = []string{BackupFailedOnly, BackupAll}
	contentEncodings = []string{"none", "gzip"}
	catalogs         = []string{"sql", "rest"}
	streamBackends   = []string{StreamBackendLocal, StreamBackendJetStream}
	natsSchemes      = []string{"nats", "tls", "ws", "wss"}
)

// validator checks one Config.
type validator struct {
	c    *Config
	stat StatFunc
	errs errorList
}

// Validate checks ranges, enums, references, templates, jq expressions and
// that referenced files exist (through stat; nil means os.Stat). It
// returns Errors, or nil. Parse and Load call it; call it again after
// changing a Config.
func (c *Config) Validate(stat StatFunc) error {
	if stat == nil {
		stat = osStat
	}
	v := &validator{c: c, stat: stat, errs: errorList{file: c.File}}
	v.config()
	return v.errs.err()
}

func (v *validator) add(path, format string, args ...any) {
	v.errs.add(v.c.Pos(path), path, format, args...)
}

// addKey reports at the key that introduced path.
func (v *validator) addKey(path, format string, args ...any) {
	pos, ok := v.c.keyPos[path]
	if !ok {
		pos = v.c.Pos(path)
	}
	v.errs.add(pos, path, format, args...)
}

func (v *validator) config() {
	c := v.c
	if c.Has("version") && c.Version != 1 {
		v.add("version", "unsupported version %d: must be 1", c.Version)
	}
	v.server()
	for _, name := range sortedKeys(c.Stores) {
		v.store(name, c.Stores[name])
	}
	if len(c.Pipelines) == 0 {
		v.add("pipelines", "at least one pipeline is required")
	}
	first := map[string]int{}
	for i, p := range c.Pipelines {
		pp := fmt.Sprintf("pipelines[%d]", i)
		switch j, dup := first[p.Name]; {
		case p.Name == "":
			v.add(pp+".name", "name is required")
		case !pipelineNameRE.MatchString(p.Name):
			v.add(pp+".name", "invalid pipeline name %q: want 1 to 64 characters from [a-zA-Z0-9_.-]", p.Name)
		case dup:
			v.add(pp+".name", "duplicate pipeline name %q (also pipelines[%d])", p.Name, j)
		default:
			first[p.Name] = i
		}
		v.pipeline(pp, p)
	}
}

func (v *validator) server() {
	s := v.c.Server
	if host, port, err := net.SplitHostPort(s.Listen); err != nil {
		v.add("server.listen", "invalid listen address %q: want host:port", s.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add("server.listen", "invalid port %q in listen address: want 0..65535", port)
	} else if strings.ContainsAny(host, " /") {
		v.add("server.listen", "invalid host %q in listen address", host)
	}
	if s.DataDir == "" {
		v.add("server.data_dir", "must not be empty")
	}
	for i, k := range s.Auth.APIKeys {
		if k == "" {
			v.add(fmt.Sprintf("server.auth.api_keys[%d]", i), "API key must not be empty")
		}
	}
	for i, cred := range s.Auth.AWSCredentials {
		cp := fmt.Sprintf("server.auth.aws_credentials[%d]", i)
		if cred.AccessKeyID == "" {
			v.add(cp+".access_key_id", "access_key_id is required")
		}
		if cred.SecretAccessKey == "" {
			v.add(cp+".secret_access_key", "secret_access_key is required")
		}
	}
	l := s.Limits
	for _, f := range []struct {
		path string
		n    int64
	}{
		{"server.limits.max_request_bytes", int64(l.MaxRequestBytes)},
		{"server.limits.max_record_bytes", int64(l.MaxRecordBytes)},
		{"server.limits.max_records_per_request", int64(l.MaxRecordsPerRequest)},
		{"server.limits.max_backlog_bytes", int64(l.MaxBacklogBytes)},
		{"server.limits.read_timeout", int64(l.ReadTimeout)},
		{"server.limits.idle_timeout", int64(l.IdleTimeout)},
		{"server.limits.max_connections", int64(l.MaxConnections)},
		{"server.limits.max_inflight_bytes", int64(l.MaxInflightBytes)},
	} {
		if f.n <= 0 {
			v.add(f.path, "must be positive")
		}
	}
	// One request may hold its compressed body and the inflated one, and
	// the receiver door takes at least 8 MiB: a legal request must fit.
	if least := max(2*l.MaxRequestBytes, 16*MiB); l.MaxInflightBytes < least && l.MaxInflightBytes > 0 {
		v.add("server.limits.max_inflight_bytes", "must be at least twice max_request_bytes and at least 16MiB (%s), got %s", least, l.MaxInflightBytes)
	}
	if l.MaxRecordBytes > l.MaxRequestBytes && l.MaxRequestBytes > 0 {
		v.add("server.limits.max_record_bytes", "must not exceed max_request_bytes (%s), got %s", l.MaxRequestBytes, l.MaxRecordBytes)
	}
	v.streamBackend()
}

// streamBackend checks server.stream_backend: with type local no other
// key; with jetstream the servers, ranges, one way to authenticate and
// the files it names.
func (v *validator) streamBackend() {
	const bp = "server.stream_backend"
	b := v.c.Server.StreamBackend
	if !v.enum(bp+".type", b.Type, streamBackends) {
		return
	}
	if !b.JetStream() {
		for _, name := range sortedKeys(yamlFields(reflect.TypeFor[StreamBackend]())) {
			if _, present := v.c.keyPos[bp+"."+name]; present && name != "type" {
				v.addKey(bp+"."+name, "only with type: jetstream")
			}
		}
		return
	}
	if len(b.URLs) == 0 {
		v.add(bp+".urls", "at least one URL is required with type: jetstream")
	}
	kind := "" // "websocket" or "nats" once a valid URL was seen
	for i, raw := range b.URLs {
		up := fmt.Sprintf("%s.urls[%d]", bp, i)
		u, err := url.Parse(raw)
		switch {
		case strings.Contains(raw, ","):
			v.add(up, "invalid URL %q: one URL per entry", raw)
			continue
		case err != nil || !slices.Contains(natsSchemes, u.Scheme) || u.Hostname() == "":
			v.add(up, "invalid URL %q: want nats://, tls://, ws:// or wss:// with a host", raw)
			continue
		}
		k := "nats"
		if u.Scheme == "ws" || u.Scheme == "wss" {
			k = "websocket"
		}
		if kind == "" {
			kind = k
		} else if k != kind {
			v.add(up, "cannot mix websocket (ws://, wss://) and nats://, tls:// URLs: the NATS client refuses it")
		}
	}
	if b.Replicas < 1 || b.Replicas > MaxBackendReplicas {
		v.add(bp+".replicas", "must be between 1 and %d, got %d", MaxBackendReplicas, b.Replicas)
	}
	if b.Node != "" && !componentRE.MatchString(b.Node) {
		v.add(bp+".node", "invalid node name %q: want 1 to 64 characters from [a-zA-Z0-9_-]", b.Node)
	}
	v.durationRange(bp+".lease_ttl", b.LeaseTTL, MinBackendLeaseTTL, MaxBackendLeaseTTL)
	if b.PublishTimeout < MinBackendPublishTimeout {
		v.add(bp+".publish_timeout", "must be at least %s, got %s", MinBackendPublishTimeout, b.PublishTimeout)
	}

	// One way to authenticate: a .creds file, a token, or user and password.
	v.together(bp+".user", b.User, bp+".password", b.Password)
	if b.Token != "" && (b.User != "" || b.Password != "") {
		v.add(bp+".token", "cannot be combined with user and password: authenticate one way")
	}
	if b.CredentialsFile != "" {
		if b.User != "" || b.Password != "" || b.Token != "" {
			v.add(bp+".credentials_file", "cannot be combined with user, password or token: authenticate one way")
		}
		v.file(bp+".credentials_file", b.CredentialsFile)
	}

	tp := bp + ".tls"
	for _, f := range []struct{ key, name string }{
		{"ca_file", b.TLS.CAFile}, {"cert_file", b.TLS.CertFile}, {"key_file", b.TLS.KeyFile},
	} {
		if f.name != "" {
			v.file(tp+"."+f.key, f.name)
		}
	}
	v.together(tp+".cert_file", b.TLS.CertFile, tp+".key_file", b.TLS.KeyFile)
}

// together reports, at the one that is set, two keys that must be set
// together or not at all.
func (v *validator) together(pathA, a, pathB, b string) {
	nameA, nameB := pathA[strings.LastIndexByte(pathA, '.')+1:], pathB[strings.LastIndexByte(pathB, '.')+1:]
	switch {
	case a != "" && b == "":
		v.add(pathA, "%s and %s must be set together", nameA, nameB)
	case b != "" && a == "":
		v.add(pathB, "%s and %s must be set together", nameA, nameB)
	}
}

func (v *validator) store(name string, s Store) {
	sp := keyPath("stores", name)
	if !componentRE.MatchString(name) {
		v.addKey(sp, "invalid store name %q: want 1 to 64 characters from [a-zA-Z0-9_-]", name)
	}
	if !v.typeKeys(sp, "store", s.Type, reflect.TypeFor[Store](), nil, storeKeys) {
		return
	}
	switch s.Type {
	case StoreS3:
		if s.Endpoint != "" {
			v.httpURL(sp+".endpoint", s.Endpoint)
		}
		if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
			v.add(sp, "access_key_id and secret_access_key must be set together")
		}
	case StoreDirectory:
		v.required(sp+".path", s.Path)
	case StorePostgres:
		v.required(sp+".dsn", s.DSN)
	case StoreOpenSearch:
		if len(s.Addresses) == 0 {
			v.add(sp+".addresses", "at least one address is required")
		}
		for i, a := range s.Addresses {
			v.httpURL(fmt.Sprintf("%s.addresses[%d]", sp, i), a)
		}
		if s.CAFile != "" {
			v.file(sp+".ca_file", s.CAFile)
		}
	case StoreIceberg:
		if v.required(sp+".catalog", s.Catalog) {
			v.enum(sp+".catalog", s.Catalog, catalogs)
		}
		v.required(sp+".uri", s.URI)
		if v.required(sp+".store", s.Store) {
			v.objectStore(sp+".store", s.Store, "-") // the warehouse location names the bucket
			v.warehouse(sp, s)
		}
		if s.Catalog != "rest" {
			for _, k := range []string{"credential", "token"} {
				if v.c.Has(sp + "." + k) {
					v.add(sp+"."+k, "applies to catalog: rest only")
				}
			}
		}
	}
}

// warehouse checks an iceberg store's warehouse against its object
// store: s3://bucket/path on an s3 store (required), file:///path or
// nothing (the store's directory) on a directory store.
func (v *validator) warehouse(sp string, s Store) {
	obj, ok := v.c.Stores[s.Store]
	if !ok {
		return
	}
	switch {
	case obj.Type == StoreS3 && !strings.HasPrefix(s.Warehouse, "s3://"):
		v.add(sp+".warehouse", "an s3 store's warehouse is required as s3://bucket/path, got %q", s.Warehouse)
	case obj.Type == StoreS3 && strings.SplitN(strings.TrimPrefix(s.Warehouse, "s3://"), "/", 2)[0] == "":
		v.add(sp+".warehouse", "names no bucket: want s3://bucket/path")
	case obj.Type == StoreDirectory && s.Warehouse != "" && !strings.HasPrefix(s.Warehouse, "file:///"):
		v.add(sp+".warehouse", "a directory store's warehouse is file:///absolute/path (or leave it out: <path>/warehouse), got %q", s.Warehouse)
	}
}

func (v *validator) pipeline(pp string, p Pipeline) {
	if !p.Stream.OnDemand && (p.Stream.Shards < 1 || p.Stream.Shards > MaxShards) {
		v.add(pp+".stream.shards", `must be between 1 and %d or "on-demand", got %d`, MaxShards, p.Stream.Shards)
	}
	if p.Stream.Retention < Duration(time.Minute) || p.Stream.Retention > Duration(365*24*time.Hour) {
		v.add(pp+".stream.retention", "must be between 1m and 8760h, got %s", p.Stream.Retention)
	}
	if p.Stream.PartitionKey != "" {
		v.jq(pp+".stream.partition_key", p.Stream.PartitionKey)
	}
	keys := v.processors(pp+".processors", p.Processors)
	if len(p.Destinations) == 0 {
		v.add(pp+".destinations", "at least one destination is required")
	}
	first := map[string]int{}
	for i, d := range p.Destinations {
		dp := fmt.Sprintf("%s.destinations[%d]", pp, i)
		switch j, dup := first[d.Name]; {
		case d.Name == "":
			v.add(dp+".name", "name is required")
		case !componentRE.MatchString(d.Name):
			v.add(dp+".name", "invalid destination name %q: want 1 to 64 characters from [a-zA-Z0-9_-]", d.Name)
		case dup:
			v.add(dp+".name", "duplicate destination name %q (also destinations[%d])", d.Name, j)
		default:
			first[d.Name] = i
		}
		v.destination(dp, d, keys)
	}
}

// processors validates a chain and returns the partition keys its
// jq_metadata processors define.
func (v *validator) processors(path string, ps []Processor) map[string]bool {
	keys := map[string]bool{}
	for i, p := range ps {
		pp := fmt.Sprintf("%s[%d]", path, i)
		if !v.typeKeys(pp, "processor", p.Type, reflect.TypeFor[Processor](), nil, processorKeys) {
			continue
		}
		switch p.Type {
		case ProcessorJQMetadata:
			if len(p.PartitionKeys) == 0 {
				v.add(pp+".partition_keys", "at least one partition key is required")
			}
			for _, k := range sortedKeys(p.PartitionKeys) {
				kp := keyPath(pp+".partition_keys", k)
				if !componentRE.MatchString(k) {
					v.addKey(kp, "invalid partition key name %q: want 1 to 64 characters from [a-zA-Z0-9_-]", k)
				}
				if v.required(kp, p.PartitionKeys[k]) {
					v.jq(kp, p.PartitionKeys[k])
				}
				keys[k] = true
			}
		case ProcessorWasm:
			if v.required(pp+".module", p.Module) {
				v.file(pp+".module", p.Module)
			}
			v.durationRange(pp+".timeout", p.Timeout, Duration(time.Millisecond), MaxLambdaTimeout)
			if p.MemoryLimit < MinWasmMemoryLimit || p.MemoryLimit > MaxWasmMemoryLimit {
				v.add(pp+".memory_limit", "must be between %s and %s, got %s", MinWasmMemoryLimit, MaxWasmMemoryLimit, p.MemoryLimit)
			}
		case ProcessorLambda:
			if v.required(pp+".url", p.URL) {
				v.httpURL(pp+".url", p.URL)
			}
			v.lambdaCall(pp, p)
		case ProcessorExec:
			if len(p.Command) == 0 || p.Command[0] == "" {
				v.add(pp+".command", "command is required (a non-empty argv list)")
			}
			v.execEnv(pp+".env", p.Env)
			v.lambdaCall(pp, p)
		case ProcessorDecompress:
			v.decompress(pp, p)
		case ProcessorAppendDelimiter:
			if p.Delimiter == "" {
				v.add(pp+".delimiter", "must not be empty")
			}
		case ProcessorDeaggregate:
			switch p.Mode {
			case DeaggregateKPL, DeaggregateJSON:
				if p.Delimiter != "" {
					v.add(pp+".delimiter", "only with mode: delimited")
				}
			case DeaggregateDelimited:
				if p.Delimiter == "" {
					v.add(pp+".delimiter", "is required with mode: delimited")
				}
			default:
				v.add(pp+".mode", "must be one of kpl, json, delimited, got %q", p.Mode)
			}
		}
	}
	return keys
}

func (v *validator) destination(dp string, d Destination, pipelineKeys map[string]bool) {
	keys := v.processors(dp+".processors", d.Processors)
	for k := range pipelineKeys {
		keys[k] = true
	}
	v.buffer(dp, d)
	v.backup(dp, d)
	v.template(dp+".error_output_prefix", d.ErrorOutputPrefix, errorPrefixTemplate, nil)
	if !v.typeKeys(dp, "destination", d.Type, reflect.TypeFor[Destination](), destCommonKeys, destKeys) {
		return
	}
	maxRetry := MaxRetry
	switch d.Type {
	case DestS3, DestDirectory:
		maxRetry = MaxObjectRetry
		if v.required(dp+".store", d.Store) {
			v.objectStore(dp+".store", d.Store, d.Bucket)
		}
		v.template(dp+".prefix", d.Prefix, prefixTemplate, keys)
		v.format(dp, d)
		if d.MaxActivePartitions < 1 || d.MaxActivePartitions > MaxActivePartitions {
			v.add(dp+".max_active_partitions", "must be between 1 and %d, got %d", MaxActivePartitions, d.MaxActivePartitions)
		}
	case DestPostgres, DestRedshift:
		v.storeRef(dp+".store", d.Store, StorePostgres)
		if v.required(dp+".table", d.Table) && !tableName.MatchString(d.Table) {
			v.add(dp+".table", "invalid table %q: want name or schema.name", d.Table)
		}
		for i, col := range d.Columns {
			cp := keyPath(dp+".columns", col.Name)
			if col.Name == "" {
				v.add(fmt.Sprintf("%s.columns[%d]", dp, i), "column name must not be empty")
			}
			if v.required(cp, col.Query) {
				v.jq(cp, col.Query)
			}
			if col.Type != "" && !sqlType.MatchString(col.Type) {
				v.add(cp+".type", "invalid SQL type %q (a type name, optionally with (n) or (p,s) and [])", col.Type)
			}
		}
		if d.Type == DestRedshift {
			sp := dp + ".staging"
			if v.required(sp+".store", d.Staging.Store) {
				v.objectStore(sp+".store", d.Staging.Store, d.Staging.Bucket)
			}
			v.template(sp+".prefix", d.Staging.Prefix, plainTemplate, nil)
			if v.enum(dp+".load", d.Load, []string{RedshiftLoadCopy, RedshiftLoadStdin}) {
				switch st := v.c.Stores[d.Staging.Store]; {
				case d.Load == RedshiftLoadCopy && st.Type != StoreS3:
					v.add(sp+".store", "load: copy needs an s3 staging store: Redshift reads the staged files from S3 (load: stdin reads them back itself)")
				case d.Load == RedshiftLoadCopy && !strings.Contains(strings.ToUpper(d.CopyOptions), "GZIP"):
					v.add(dp+".copy_options", "must include GZIP: the staged files are gzip'd JSON lines (default %q)", DefaultRedshiftCopyOptions)
				case d.Load == RedshiftLoadStdin && len(d.Columns) == 0:
					v.add(dp+".columns", "load: stdin needs columns (the table columns to load each staged document's keys into)")
				}
			}
		}
	case DestOpenSearch:
		v.storeRef(dp+".store", d.Store, StoreOpenSearch)
		if d.MaxBulkBytes < 64*KiB || d.MaxBulkBytes > 100*MiB {
			v.add(dp+".max_bulk_bytes", "must be between 64KiB and 100MiB (OpenSearch's default http.max_content_length), got %s", d.MaxBulkBytes)
		}
		if v.required(dp+".index", d.Index) && (d.Index != strings.ToLower(d.Index) || strings.ContainsAny(d.Index, ` "*\<|,>/?#:`) || strings.IndexAny(d.Index[:1], "_-+") == 0) {
			v.add(dp+".index", "invalid index name %q: lowercase, no spaces or \\/*?\"<>|,#:, not starting with _ - +", d.Index)
		}
		v.enum(dp+".rotation", d.Rotation, rotations)
		if d.DocumentID != "" {
			v.jq(dp+".document_id", d.DocumentID)
		}
	case DestHTTP:
		if v.required(dp+".url", d.URL) {
			v.httpURL(dp+".url", d.URL)
		}
		v.enum(dp+".content_encoding", d.ContentEncoding, contentEncodings)
		if d.MaxBodyBytes < 64*KiB || d.MaxBodyBytes > 64*MiB {
			v.add(dp+".max_body_bytes", "must be between 64KiB and 64MiB, got %s", d.MaxBodyBytes)
		}
		v.durationRange(dp+".timeout", d.Timeout, Duration(time.Second), Duration(15*time.Minute))
		if d.CAFile != "" {
			v.file(dp+".ca_file", d.CAFile)
		}
	case DestIceberg:
		v.storeRef(dp+".store", d.Store, StoreIceberg)
		v.required(dp+".table", d.Table)
		if d.Format.Type != "parquet" {
			v.add(dp+".format.type", "iceberg destinations write parquet, got %q", d.Format.Type)
		}
		v.format(dp, d)
	}
	if d.Retry.Duration > maxRetry {
		v.add(dp+".retry.duration", "must be between 0s and %s for %s destinations, got %s", maxRetry, d.Type, d.Retry.Duration)
	}
}

func (v *validator) buffer(dp string, d Destination) {
	if d.Buffer.Size < MinBufferSize || d.Buffer.Size > MaxBufferSize {
		v.add(dp+".buffer.size", "must be between %s and %s, got %s", MinBufferSize, MaxBufferSize, d.Buffer.Size)
	}
	if d.Buffer.Interval > MaxBufferInterval {
		v.add(dp+".buffer.interval", "must be between 0s and %s, got %s", MaxBufferInterval, d.Buffer.Interval)
	}
	// The cap must hold one full buffer, or a partition could never fill.
	if d.Buffer.MaxBytes < d.Buffer.Size {
		v.add(dp+".buffer.max_bytes", "must be at least buffer.size (%s), got %s", d.Buffer.Size, d.Buffer.MaxBytes)
	}
}

func (v *validator) format(dp string, d Destination) {
	f := d.Format
	if !v.enum(dp+".format.type", f.Type, formats) {
		return
	}
	if f.Type == "json" {
		if f.Compression != "" {
			v.add(dp+".format.compression", "applies to parquet and orc only; json objects use compression")
		}
		if f.Schema != "" {
			v.add(dp+".format.schema", "applies to parquet and orc only")
		}
		if d.Type != DestIceberg {
			v.enum(dp+".compression", d.Compression, compressions)
		}
		return
	}
	v.enum(dp+".format.compression", f.Compression, formatCompressions[f.Type])
	if d.Compression != "" && d.Compression != "none" {
		v.add(dp+".compression", "must be none when format.type is %s (set format.compression instead), got %q", f.Type, d.Compression)
	}
	if f.Schema == "" {
		if d.Type != DestIceberg { // iceberg can use an existing table's schema
			v.add(dp+".format.schema", "a schema is required for %s", f.Type)
		}
		return
	}
	v.file(dp+".format.schema", f.Schema)
}

func (v *validator) backup(dp string, d Destination) {
	b := d.Backup
	bp := dp + ".backup"
	v.enum(bp+".mode", b.Mode, backupModes)
	v.template(bp+".prefix", b.Prefix, backupTemplate, nil)
	if !v.c.Has(bp+".store") && b.Store != DefaultBackupStore {
		return // defaulted from the destination or staging store, which is checked there
	}
	v.objectStore(bp+".store", b.Store, b.Bucket)
}

// objectStore checks that name is an s3 or directory store and that a
// bucket is given for s3 ("-" when the caller locates the bucket itself).
func (v *validator) objectStore(path, name, bucket string) {
	s, ok := v.c.Stores[name]
	switch {
	case !ok:
		v.add(path, "store %q is not defined%s", name, v.storeHint())
	case s.Type == StoreS3:
		if bucket == "" {
			v.add(parentPath(path)+".bucket", "bucket is required with s3 store %q", name)
		}
	case s.Type != StoreDirectory:
		v.add(path, "store %q has type %s; an s3 or directory store is required", name, s.Type)
	}
}

// storeRef checks that name is a store of type typ.
func (v *validator) storeRef(path, name, typ string) {
	if !v.required(path, name) {
		return
	}
	s, ok := v.c.Stores[name]
	switch {
	case !ok:
		v.add(path, "store %q is not defined%s", name, v.storeHint())
	case s.Type != typ:
		v.add(path, "store %q has type %s; a %s store is required", name, s.Type, typ)
	}
}

func (v *validator) storeHint() string {
	names := sortedKeys(v.c.Stores)
	if len(names) == 0 {
		return " (no stores are defined)"
	}
	return fmt.Sprintf(" (stores: %s)", strings.Join(names, ", "))
}

// typeKeys checks the type field and that only keys of that type (plus
// common) are present. It reports whether the type is known.
func (v *validator) typeKeys(path, what, typ string, t reflect.Type, common []string, allowed map[string][]string) bool {
	if typ == "" {
		v.add(path+".type", "%s type is required (one of %s)", what, strings.Join(sortedKeys(allowed), ", "))
		return false
	}
	keys, ok := allowed[typ]
	if !ok {
		v.add(path+".type", "unknown %s type %q (want one of %s)", what, typ, strings.Join(sortedKeys(allowed), ", "))
		return false
	}
	for name := range yamlFields(t) {
		kp := path + "." + name
		if _, present := v.c.keyPos[kp]; !present || name == "type" {
			continue
		}
		if !slices.Contains(keys, name) && !slices.Contains(common, name) {
			v.addKey(kp, "key %q does not apply to %s type %q", name, what, typ)
		}
	}
	return true
}

var (
	// tableName is name or schema.name, no quoting.
	tableName = regexp.MustCompile(`^[^.\s",]+(\.[^.\s",]+)?$`)
	// sqlType is a type name as create_table writes it into its DDL: the
	// config is trusted, but it still cannot carry more than a type.
	sqlType = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_ ]*(\(\d+(,\s*\d+)?\))?(\[\])?$`)
)

func (v *validator) required(path, val string) bool {
	if val == "" {
		v.add(path, "%s is required", path[strings.LastIndexAny(path, ".")+1:])
		return false
	}
	return true
}

func (v *validator) enum(path, val string, allowed []string) bool {
	if !slices.Contains(allowed, val) {
		v.add(path, "invalid value %q (want one of %s)", val, strings.Join(allowed, ", "))
		return false
	}
	return true
}

func (v *validator) durationRange(path string, d, lo, hi Duration) {
	if d < lo || d > hi {
		v.add(path, "must be between %s and %s, got %s", lo, hi, d)
	}
}

func (v *validator) httpURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "invalid URL %q: want http:// or https:// with a host", raw)
	}
}

func (v *validator) jq(path, expr string) {
	q, err := gojq.Parse(expr)
	if err == nil {
		_, err = gojq.Compile(q)
	}
	if err != nil {
		v.add(path, "invalid jq expression %q: %v", expr, err)
	}
}

// file checks that a file named relative to the config file exists.
func (v *validator) file(path, name string) {
	full := v.c.Resolve(name)
	if err := v.stat(full); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			v.add(path, "file %s does not exist", full)
		} else {
			v.add(path, "cannot access file %s: %v", full, err)
		}
	}
}

// lambdaCall checks the settings lambda and exec share: the time one call
// may take and how often a failed call is retried.
func (v *validator) lambdaCall(pp string, p Processor) {
	v.durationRange(pp+".timeout", p.Timeout, Duration(time.Millisecond), MaxLambdaTimeout)
	if p.Retries < 0 || p.Retries > MaxLambdaRetries {
		v.add(pp+".retries", "must be between 0 and %d, got %d", MaxLambdaRetries, p.Retries)
	}
}

// execEnv checks an exec child's environment: names a shell can set, and
// no NUL, which cannot be passed to a process.
func (v *validator) execEnv(path string, env map[string]string) {
	for _, k := range sortedKeys(env) {
		kp := keyPath(path, k)
		if !envNameRE.MatchString(k) {
			v.addKey(kp, "invalid variable name %q: want [A-Za-z_][A-Za-z0-9_]*", k)
		}
		if strings.ContainsRune(env[k], 0) {
			v.add(kp, "value must not contain NUL")
		}
	}
}

// decompress checks the inflation budgets: a batch budget below the record
// limit would make the record limit unreachable.
func (v *validator) decompress(pp string, p Processor) {
	ok := true
	for _, f := range []struct {
		key string
		val ByteSize
	}{{"max_record_bytes", p.MaxRecordBytes}, {"max_batch_bytes", p.MaxBatchBytes}} {
		if f.val < MinDecompressBytes || f.val > MaxDecompressBytes {
			v.add(pp+"."+f.key, "must be between %s and %s, got %s", MinDecompressBytes, MaxDecompressBytes, f.val)
			ok = false
		}
	}
	if ok && p.MaxBatchBytes < p.MaxRecordBytes {
		v.add(pp+".max_batch_bytes", "must be at least max_record_bytes (%s), got %s", p.MaxRecordBytes, p.MaxBatchBytes)
	}
}

// Resolve returns name relative to BaseDir unless it is absolute.
func (c *Config) Resolve(name string) string {
	if filepath.IsAbs(name) || c.BaseDir == "" {
		return name
	}
	return filepath.Join(c.BaseDir, name)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
