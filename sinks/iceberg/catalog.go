package iceberg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // registers s3:// for table files
	_ "github.com/jackc/pgx/v5/stdlib"             // registers the pgx database/sql driver
)

// CatalogConfig locates a catalog and the warehouse its tables live in.
type CatalogConfig struct {
	// Name is the catalog's name, stored by the SQL catalog in every row
	// (the store's name).
	Name string
	// Kind is "sql" (iceberg-go's SQL catalog, on PostgreSQL) or "rest".
	Kind string
	// URI is the PostgreSQL URL (sql) or the REST catalog's URL (rest).
	URI string
	// Warehouse is the root of new tables' locations: s3://bucket/path or
	// file:///path.
	Warehouse string
	// S3 configures access to s3:// locations; empty for file://.
	S3 *S3Config
	// Credential is the REST catalog's OAuth client credential
	// ("id:secret"), Token its bearer token; both optional.
	Credential, Token string
}

// S3Config is how the catalog reaches an S3-compatible store.
type S3Config struct {
	Endpoint, Region, AccessKeyID, SecretAccessKey string
	// PathStyle addresses buckets as URL paths (MinIO).
	PathStyle bool
}

// properties are the catalog properties iceberg-go reads, table file
// access included.
func (c CatalogConfig) properties() ice.Properties {
	p := ice.Properties{"warehouse": c.Warehouse}
	if s := c.S3; s != nil {
		p[icebergio.S3EndpointURL] = s.Endpoint
		p[icebergio.S3Region] = s.Region
		p[icebergio.S3AccessKeyID] = s.AccessKeyID
		p[icebergio.S3SecretAccessKey] = s.SecretAccessKey
		if !s.PathStyle {
			p[icebergio.S3ForceVirtualAddressing] = "true"
		}
	}
	return p
}

// openTimeout bounds opening a catalog.
const openTimeout = 15 * time.Second

// maxConns bounds the SQL catalog's connections to its database.
const maxConns = 8

// Catalog opens its catalog on first use and keeps it; a failed open is
// tried again on the next use, so Hydrant starts while the catalog's
// database is down. One Catalog serves every destination of a store.
type Catalog struct {
	cfg CatalogConfig

	mu  sync.Mutex
	cat catalog.Catalog
	db  *sql.DB
}

// NewCatalog returns an unopened catalog.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) {
	switch cfg.Kind {
	case "sql", "rest":
	default:
		return nil, fmt.Errorf("iceberg: catalog %q (want sql or rest)", cfg.Kind)
	}
	return &Catalog{cfg: cfg}, nil
}

// Open returns the iceberg-go catalog, opening it on first use.
func (c *Catalog) Open(ctx context.Context) (catalog.Catalog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cat != nil {
		return c.cat, nil
	}
	// Every Write of every destination of the store waits for this
	// lock: bound an open that cannot connect.
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	switch c.cfg.Kind {
	case "sql":
		db, err := sql.Open("pgx", c.cfg.URI)
		if err != nil {
			return nil, fmt.Errorf("iceberg: sql catalog: %w", err)
		}
		// Commits of every destination of the store share these; a
		// commit holds one connection at a time.
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
		// NewCatalog creates the catalog's tables without a context;
		// check the database answers first so that it cannot hang.
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("iceberg: sql catalog: %w", err)
		}
		cat, err := sqlcat.NewCatalog(c.cfg.Name, db, sqlcat.Postgres, c.cfg.properties())
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("iceberg: sql catalog: %w", err)
		}
		c.cat, c.db = cat, db
	case "rest":
		opts := []rest.Option{rest.WithWarehouseLocation(c.cfg.Warehouse), rest.WithAdditionalProps(c.cfg.properties())}
		if c.cfg.Credential != "" {
			opts = append(opts, rest.WithCredential(c.cfg.Credential))
		}
		if c.cfg.Token != "" {
			opts = append(opts, rest.WithOAuthToken(c.cfg.Token))
		}
		cat, err := rest.NewCatalog(ctx, c.cfg.Name, c.cfg.URI, opts...)
		if err != nil {
			return nil, fmt.Errorf("iceberg: rest catalog: %w", err)
		}
		c.cat = cat
	}
	return c.cat, nil
}

// Check reports whether the catalog answers.
func (c *Catalog) Check(ctx context.Context) error {
	cat, err := c.Open(ctx)
	if err != nil {
		return err
	}
	if _, err := cat.ListNamespaces(ctx, nil); err != nil {
		return fmt.Errorf("iceberg: list namespaces: %w", err)
	}
	return nil
}

// Close releases the catalog's database connections.
func (c *Catalog) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if cl, ok := c.cat.(interface{ Close() error }); ok {
		err = cl.Close()
	}
	if c.db != nil {
		err = errors.Join(err, c.db.Close())
	}
	c.cat, c.db = nil, nil
	return err
}
