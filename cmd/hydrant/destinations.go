package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hydrant-io/hydrant/buffer"
	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/backup"
	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/sinks/directory"
	"github.com/hydrant-io/hydrant/sinks/discard"
	"github.com/hydrant-io/hydrant/sinks/httpendpoint"
	"github.com/hydrant-io/hydrant/sinks/iceberg"
	"github.com/hydrant-io/hydrant/sinks/object"
	"github.com/hydrant-io/hydrant/sinks/opensearch"
	"github.com/hydrant-io/hydrant/sinks/postgres"
	"github.com/hydrant-io/hydrant/sinks/s3"
	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/jackc/pgx/v5/pgxpool"
	opensearchgo "github.com/opensearch-project/opensearch-go/v4"
)

// pipelineVersion is Firehose's DeliveryStreamVersion in object names.
// Config changes are not versioned yet, so it stays 1.
const pipelineVersion = 1

// sinkEnv is what a destination's constructor gets: its config, where it
// sits in the file (errors name that position) and the shared stores.
type sinkEnv struct {
	cfg      *configs.Config
	pipeline string
	dc       configs.Destination
	path     string // e.g. pipelines[0].destinations[1]
	stores   *storeSet
	log      *slog.Logger
}

// errorf is a config error at one of the destination's fields.
func (e sinkEnv) errorf(field, format string, args ...any) error {
	return e.cfg.Errorf(e.path+"."+field, format, args...)
}

// newSink builds a destination's sink and names the error output type its
// failures are backed up under. One case per destination type: a new type
// is one package and one case here.
func newSink(env sinkEnv) (sink sinks.Sink, errorType string, err error) {
	switch env.dc.Type {
	case configs.DestDirectory, configs.DestS3:
		sink, err = newObjectSink(env)
		return sink, record.S3Failed, err
	case configs.DestPostgres:
		sink, err = newPostgresSink(env)
		return sink, record.PostgresFailed, err
	case configs.DestRedshift:
		sink, err = newRedshiftSink(env)
		return sink, record.RedshiftFailed, err
	case configs.DestOpenSearch:
		sink, err = newOpenSearchSink(env)
		return sink, record.OpenSearchFailed, err
	case configs.DestHTTP:
		sink, err = newHTTPSink(env)
		return sink, record.HTTPEndpointFailed, err
	case configs.DestIceberg:
		sink, err = newIcebergSink(env)
		return sink, record.IcebergFailed, err
	case configs.DestDiscard:
		return discard.New(), "", nil
	default:
		return nil, "", env.errorf("type", "the %s sink is not built yet in this version of hydrant", env.dc.Type)
	}
}

// newObjectSink is the directory and S3 destinations: objects named like
// Firehose's in an object store, optionally Parquet or ORC.
func newObjectSink(env sinkEnv) (sinks.Sink, error) {
	dc := env.dc
	store, err := env.stores.object(dc.Store, env.path+".store")
	if err != nil {
		return nil, err
	}
	format, err := formatEncoder(env.cfg, dc.Format)
	if err != nil {
		return nil, env.errorf("format.schema", "%v", err)
	}
	sink, err := object.New(object.Config{Pipeline: env.pipeline, Version: pipelineVersion, Bucket: dc.Bucket, Prefix: dc.Prefix,
		Compression: dc.Compression, Format: format}, store)
	if err != nil {
		return nil, env.errorf("prefix", "%v", err)
	}
	return sink, nil
}

// newPostgresSink is the postgres destination: COPY into a table, exactly
// once through the checkpoint table beside it.
func newPostgresSink(env sinkEnv) (sinks.Sink, error) {
	dc := env.dc
	pool, err := env.stores.postgres(dc.Store, env.path+".store")
	if err != nil {
		return nil, err
	}
	sink, err := postgres.New(pool, postgres.Config{Table: dc.Table, Columns: columns(dc.Columns), CreateTable: dc.CreateTable})
	if err != nil {
		return nil, env.errorf("columns", "%v", err)
	}
	return sink, nil
}

// newRedshiftSink is the redshift destination: stage in an object store,
// COPY the manifest, exactly once through the same checkpoint table.
func newRedshiftSink(env sinkEnv) (sinks.Sink, error) {
	dc := env.dc
	pool, err := env.stores.postgres(dc.Store, env.path+".store")
	if err != nil {
		return nil, err
	}
	staging, err := env.stores.object(dc.Staging.Store, env.path+".staging.store")
	if err != nil {
		return nil, err
	}
	creds := ""
	if dc.Load == configs.RedshiftLoadCopy {
		if creds, err = redshiftCredentials(dc, env.cfg.Stores[dc.Staging.Store]); err != nil {
			return nil, env.errorf("iam_role", "%v", err)
		}
	}
	sink, err := postgres.NewRedshift(pool, postgres.RedshiftConfig{
		Table: dc.Table, Columns: columns(dc.Columns), CopyOptions: dc.CopyOptions, Credentials: creds,
		Staging: staging, Bucket: dc.Staging.Bucket, Prefix: dc.Staging.Prefix,
		Pipeline: env.pipeline, Version: pipelineVersion, Load: dc.Load,
	})
	if err != nil {
		return nil, env.errorf("columns", "%v", err)
	}
	return sink, nil
}

// newOpenSearchSink is the opensearch destination: _bulk with Firehose's
// index rotation, item results read one by one.
func newOpenSearchSink(env sinkEnv) (sinks.Sink, error) {
	dc := env.dc
	client, err := env.stores.search(dc.Store, env.path+".store")
	if err != nil {
		return nil, err
	}
	sink, err := opensearch.New(client, opensearch.Config{Index: dc.Index, Rotation: dc.Rotation,
		DocumentID: dc.DocumentID, MaxBulkBytes: int(dc.MaxBulkBytes)})
	if err != nil {
		return nil, env.errorf("document_id", "%v", err)
	}
	return sink, nil
}

// newHTTPSink is the http destination: Firehose's HTTP-endpoint delivery
// protocol.
func newHTTPSink(env sinkEnv) (sinks.Sink, error) {
	dc := env.dc
	ca := ""
	if dc.CAFile != "" {
		ca = env.cfg.Resolve(dc.CAFile)
	}
	sink, err := httpendpoint.New(httpendpoint.Config{
		URL: dc.URL, AccessKey: dc.AccessKey, ContentEncoding: dc.ContentEncoding, CommonAttributes: dc.CommonAttributes,
		Pipeline: env.pipeline, MaxBodyBytes: int64(dc.MaxBodyBytes), Timeout: dc.Timeout.D(), CAFile: ca, Logger: env.log,
	})
	if err != nil {
		return nil, env.errorf("url", "%v", err)
	}
	return sink, nil
}

// newIcebergSink is the iceberg destination: Parquet data files committed
// in one snapshot per flush, exactly once through the snapshot summary.
func newIcebergSink(env sinkEnv) (sinks.Sink, error) {
	dc := env.dc
	cat, err := env.stores.iceberg(dc.Store, env.path+".store")
	if err != nil {
		return nil, err
	}
	cfg := iceberg.Config{Table: dc.Table, Compression: dc.Format.Compression}
	if dc.Format.Schema != "" {
		if cfg.Schema, err = columnar.LoadSchema(env.cfg.Resolve(dc.Format.Schema)); err != nil {
			return nil, env.errorf("format.schema", "%v", err)
		}
	}
	for i, p := range dc.PartitionBy {
		f, err := iceberg.ParsePartitionField(p)
		if err != nil {
			return nil, env.errorf(fmt.Sprintf("partition_by[%d]", i), "%v", err)
		}
		cfg.PartitionBy = append(cfg.PartitionBy, f)
	}
	sink, err := iceberg.New(cat, cfg)
	if err != nil {
		field := "table"
		if len(dc.PartitionBy) > 0 && cfg.Schema != nil {
			field = "partition_by"
		}
		return nil, env.errorf(field, "%v", err)
	}
	return sink, nil
}

// redshiftCredentials is what COPY's CREDENTIALS clause says: the IAM
// role, or the staging store's keys (from the config, or the
// environment's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY as the store uses).
func redshiftCredentials(dc configs.Destination, staging configs.Store) (string, error) {
	if dc.IAMRole != "" {
		return "aws_iam_role=" + dc.IAMRole, nil
	}
	id, secret := staging.AccessKeyID, staging.SecretAccessKey
	if id == "" {
		id, secret = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if id == "" || secret == "" {
		return "", errors.New("load: copy needs iam_role, or access keys on the s3 staging store (or in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), for Redshift to read the staging bucket")
	}
	creds := "aws_access_key_id=" + id + ";aws_secret_access_key=" + secret
	if staging.AccessKeyID == "" {
		if token := os.Getenv("AWS_SESSION_TOKEN"); token != "" {
			creds += ";token=" + token // temporary credentials
		}
	}
	return creds, nil
}

// columns converts the config's column mapping.
func columns(cs configs.Columns) []postgres.Column {
	out := make([]postgres.Column, len(cs))
	for i, c := range cs {
		out[i] = postgres.Column{Name: c.Name, Query: c.Query, Type: c.Type}
	}
	return out
}

// formatEncoder loads a destination's schema and builds its Parquet or ORC
// encoder; nil for JSON. A schema's own problems name its file and line.
func formatEncoder(cfg *configs.Config, f configs.Format) (*columnar.Encoder, error) {
	if !f.Columnar() {
		return nil, nil
	}
	s, err := columnar.LoadSchema(cfg.Resolve(f.Schema))
	if err != nil {
		return nil, err
	}
	return columnar.NewEncoder(f.Type, f.Compression, s)
}

// storeSet builds each named store once, shared by every destination and
// backup that names it.
type storeSet struct {
	cfg      *configs.Config
	log      *slog.Logger
	keep     func(func(context.Context) error) // receives what must be closed
	objects  map[string]sinks.ObjectStore
	pools    map[string]*pgxpool.Pool
	searches map[string]*opensearchgo.Client
	catalogs map[string]*iceberg.Catalog
}

func newStoreSet(cfg *configs.Config, log *slog.Logger, keep func(func(context.Context) error)) *storeSet {
	return &storeSet{cfg: cfg, log: log, keep: keep, objects: map[string]sinks.ObjectStore{}, pools: map[string]*pgxpool.Pool{},
		searches: map[string]*opensearchgo.Client{}, catalogs: map[string]*iceberg.Catalog{}}
}

// iceberg returns the catalog of the iceberg store called name, shared by
// its destinations. It connects on first use.
func (s *storeSet) iceberg(name, path string) (*iceberg.Catalog, error) {
	if c, ok := s.catalogs[name]; ok {
		return c, nil
	}
	sc := s.cfg.Stores[name]
	obj := s.cfg.Stores[sc.Store]
	cc := iceberg.CatalogConfig{Name: name, Kind: sc.Catalog, URI: sc.URI, Warehouse: sc.Warehouse,
		Credential: sc.Credential, Token: sc.Token}
	switch obj.Type {
	case configs.StoreDirectory:
		if cc.Warehouse == "" {
			dir, err := filepath.Abs(filepath.Join(obj.Path, "warehouse"))
			if err != nil {
				return nil, s.cfg.Errorf(path, "store %s: %v", name, err)
			}
			cc.Warehouse = "file://" + dir
		}
	case configs.StoreS3:
		cc.S3 = &iceberg.S3Config{Endpoint: obj.Endpoint, Region: obj.Region, AccessKeyID: obj.AccessKeyID,
			SecretAccessKey: obj.SecretAccessKey, PathStyle: obj.PathStyle}
	}
	c, err := iceberg.NewCatalog(cc)
	if err != nil {
		return nil, s.cfg.Errorf(path, "store %s: %v", name, err)
	}
	s.keep(func(context.Context) error { return c.Close() })
	s.catalogs[name] = c
	return c, nil
}

// search returns the client of the opensearch store called name, shared
// by its destinations.
func (s *storeSet) search(name, path string) (*opensearchgo.Client, error) {
	if c, ok := s.searches[name]; ok {
		return c, nil
	}
	sc := s.cfg.Stores[name]
	ca := ""
	if sc.CAFile != "" {
		ca = s.cfg.Resolve(sc.CAFile)
	}
	c, err := opensearch.NewClient(opensearch.ClientConfig{Addresses: sc.Addresses, Username: sc.Username,
		Password: sc.Password, CAFile: ca, InsecureSkipVerify: sc.InsecureSkipVerify})
	if err != nil {
		return nil, s.cfg.Errorf(path, "store %s: %v", name, err)
	}
	s.keep(func(context.Context) error { return c.Close() }) // its health checks run in the background
	s.searches[name] = c
	return c, nil
}

// postgres returns the connection pool of the postgres store called name,
// shared by its destinations. It connects on first use.
func (s *storeSet) postgres(name, path string) (*pgxpool.Pool, error) {
	if p, ok := s.pools[name]; ok {
		return p, nil
	}
	p, err := postgres.NewPool(s.cfg.Stores[name].DSN)
	if err != nil {
		return nil, s.cfg.Errorf(path, "store %s: %v", name, err)
	}
	s.keep(func(context.Context) error { p.Close(); return nil })
	s.pools[name] = p
	return p, nil
}

// object returns the object store called name; path is the config field
// that names it. One case per object store type.
func (s *storeSet) object(name, path string) (sinks.ObjectStore, error) {
	if st, ok := s.objects[name]; ok {
		return st, nil
	}
	sc := s.cfg.Stores[name]
	var st sinks.ObjectStore
	var err error
	switch sc.Type {
	case configs.StoreDirectory:
		st, err = directory.New(sc.Path)
	case configs.StoreS3:
		st, err = s3.New(s3.Config{
			Endpoint: sc.Endpoint, Region: sc.Region, PathStyle: sc.PathStyle,
			AccessKeyID: sc.AccessKeyID, SecretAccessKey: sc.SecretAccessKey,
			Logger: s.log.With("store", name),
		})
	default:
		return nil, s.cfg.Errorf(path, "a %s store is not built yet in this version of hydrant", sc.Type)
	}
	if err != nil {
		return nil, s.cfg.Errorf(path, "%v", err)
	}
	s.objects[name] = st
	return st, nil
}

// destination is one built destination: what the runtime gets, and what
// validate --check-connections and /readyz ask.
type destination struct {
	*delivery.Destination
	// backupStore and backupBucket are checked beside the sink; nil when
	// the backup is the sink's own bucket (the default), checked already.
	backupStore  sinks.ObjectStore
	backupBucket string
}

// buildDestination builds everything one destination needs: its
// processors (the pipeline's, then its own), sink and backup. Closers of
// what it built are handed to keep, also on error.
func buildDestination(ctx context.Context, env sinkEnv, pc configs.Pipeline, pp string, procs procEnv, keep func(func(context.Context) error)) (*destination, error) {
	dc := env.dc
	// Both chains are built even when one fails, so that every mistake
	// is reported.
	chain, perr := buildProcessors(ctx, procs, pc.Processors, pp+".processors")
	more, derr := buildProcessors(ctx, procs, dc.Processors, env.path+".processors")
	chain = append(chain, more...)
	for _, p := range chain {
		keep(p.Close)
	}
	sink, errorType, serr := newSink(env)
	if sink != nil {
		keep(sink.Close)
	}
	backupStore, berr := env.stores.object(dc.Backup.Store, env.path+".backup.store")
	if err := joinConfigErrors(perr, derr, serr, berr); err != nil {
		return nil, err
	}
	bw, err := backup.New(backup.Config{
		Pipeline: env.pipeline, Destination: dc.Name, Version: pipelineVersion,
		Bucket: dc.Backup.Bucket, ErrorPrefix: dc.ErrorOutputPrefix, SourcePrefix: dc.Backup.Prefix,
	}, backupStore)
	if err != nil {
		return nil, env.errorf("error_output_prefix", "%v", err)
	}
	return &destination{
		Destination: &delivery.Destination{
			Name:             dc.Name,
			ErrorType:        errorType,
			Sink:             sink,
			Processors:       chain,
			Policy:           buffer.Policy{MaxBytes: int64(dc.Buffer.Size), Interval: time.Duration(dc.Buffer.Interval)},
			Retry:            time.Duration(dc.Retry.Duration),
			Backup:           bw,
			BackupAll:        dc.Backup.Mode == configs.BackupAll,
			MaxPartitions:    dc.MaxActivePartitions,
			MaxBufferedBytes: int64(dc.Buffer.MaxBytes),
		},
		backupStore:  backupStoreToCheck(dc, backupStore),
		backupBucket: dc.Backup.Bucket,
	}, nil
}

// backupStoreToCheck is the backup's store unless the backup is the
// destination's own store and bucket, which the sink's check covers.
func backupStoreToCheck(dc configs.Destination, store sinks.ObjectStore) sinks.ObjectStore {
	if dc.Backup.Store == dc.Store && dc.Backup.Bucket == dc.Bucket {
		return nil
	}
	return store
}

// check asks the destination's sink and its backup store whether they
// answer (sinks.Checker, sinks.BucketChecker); nil when they do or cannot
// tell.
func (d *destination) check(ctx context.Context) error {
	if c, ok := d.Sink.(sinks.Checker); ok {
		if err := c.Check(ctx); err != nil {
			return fmt.Errorf("destination %s: %w", d.Name, err)
		}
	}
	if c, ok := d.backupStore.(sinks.BucketChecker); ok {
		if err := c.CheckBucket(ctx, d.backupBucket); err != nil {
			return fmt.Errorf("destination %s: backup: %w", d.Name, err)
		}
	}
	return nil
}

// joinConfigErrors flattens config errors into one configs.Errors (nil
// when there are none), so every mistake of a file is reported at once,
// and once: a pipeline's processors are built for each destination.
func joinConfigErrors(errs ...error) error {
	var out configs.Errors
	seen := map[string]bool{}
	add := func(e *configs.Error) {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	for _, err := range errs {
		switch e := err.(type) {
		case nil:
		case configs.Errors:
			for _, one := range e {
				add(one)
			}
		case *configs.Error:
			add(e)
		default:
			return err
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
