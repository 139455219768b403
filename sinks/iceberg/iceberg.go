// Package iceberg appends batches to Apache Iceberg tables, exactly once:
// each flush writes Parquet data files into the table's location and
// commits them in one snapshot.
//
// The snapshot's summary carries the batch identity (pipeline,
// destination, shard and the last position committed). Before writing,
// Write walks the table's snapshots back from the current one to the
// newest that this destination and shard committed, and skips the
// records at or below its position: a batch delivered before a crash and
// read again is recognised from the table itself (the idea of Flink's
// Iceberg committer, which keeps its checkpoint id there). The commit
// asserts that the table's main branch is still the snapshot that was
// read, so two writers can never both pass the check: the loser reloads,
// checks again and commits what is still missing, with back-off.
//
// Data files are written with Hydrant's own Parquet encoder (package
// columnar: the same conversion, the same per-record failures as on S3)
// and added with their row counts and partition values; iceberg-go
// writes the manifests and the metadata, and the table gets a name
// mapping so that readers find columns by name.
package iceberg

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/columnar"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Snapshot summary properties that identify a batch.
const (
	PropPipeline    = "hydrant.pipeline"
	PropDestination = "hydrant.destination"
	PropShard       = "hydrant.shard"
	// PropLast is the position of the last record committed, "seq.sub".
	PropLast  = "hydrant.last"
	PropFirst = "hydrant.first"
	// PropWrite is unique per Write call: it tells a commit of this call
	// whose answer was lost from another writer's.
	PropWrite = "hydrant.write-id"
)

// Config describes one destination.
type Config struct {
	// Table is "namespace.name"; a namespace may itself hold dots.
	Table string
	// Schema converts records; nil means the existing table's schema,
	// each column read from the record's field of the same name.
	Schema *columnar.Schema
	// Compression is the Parquet page compression (default snappy).
	Compression string
	// PartitionBy is the partition spec of a table created by the sink.
	PartitionBy []PartitionField
	// CommitAttempts bounds the commits one Write tries when other
	// writers keep winning (default 20); the batch is then retried by
	// the runtime.
	CommitAttempts int
}

// Sink appends to one table, and to the tables records are routed to
// (see route). Create it with New.
type Sink struct {
	cat *Catalog
	cfg Config

	mu      sync.Mutex
	targets map[string]*target // by table name
}

// target is one table the sink appends to.
type target struct {
	name  string
	ident table.Identifier
	// schema converts records: the configured schema for the
	// destination's table, nil (the table's own) for routed tables.
	schema *columnar.Schema
	// create: the table is created from schema when missing (the
	// destination's own table only).
	create bool

	mu    sync.Mutex
	state *tableState // for the table's current schema and spec
}

// tableState is what Write needs for one schema and partition spec of
// the table.
type tableState struct {
	schemaID, specID int
	schema           *columnar.Schema
	enc              *columnar.Encoder
	spec             ice.PartitionSpec
	logical          map[int]string // partition field id -> avro logical type
	newPartitioner   func() (*partitioner, error)
}

// New returns a sink appending to cfg.Table in cat.
func New(cat *Catalog, cfg Config) (*Sink, error) {
	ident, err := ParseTable(cfg.Table)
	if err != nil {
		return nil, err
	}
	if cfg.Compression == "" {
		cfg.Compression = "snappy"
	}
	if cfg.CommitAttempts <= 0 {
		cfg.CommitAttempts = 20
	}
	if cfg.Schema != nil {
		// Fail at startup on a schema the encoder refuses.
		if _, err := columnar.NewEncoder(columnar.Parquet, cfg.Compression, cfg.Schema); err != nil {
			return nil, fmt.Errorf("iceberg: %w", err)
		}
		if len(cfg.PartitionBy) > 0 {
			if _, err := partitionSpec(cfg.PartitionBy, TableSchema(cfg.Schema)); err != nil {
				return nil, fmt.Errorf("iceberg: %w", err)
			}
		}
	}
	s := &Sink{cat: cat, cfg: cfg, targets: map[string]*target{}}
	s.targets[cfg.Table] = &target{name: cfg.Table, ident: ident, schema: cfg.Schema, create: cfg.Schema != nil}
	return s, nil
}

// target returns the table called name (already parsed by route).
func (s *Sink) target(name string, ident table.Identifier) *target {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.targets[name]
	if t == nil {
		t = &target{name: name, ident: ident}
		if len(s.targets) < maxTargets { // names come from records: bounded
			s.targets[name] = t
		}
	}
	return t
}

// maxTargets bounds the routed tables whose state a sink keeps.
const maxTargets = 1024

// ParseTable reads "namespace.name" (the last dot separates the name).
func ParseTable(s string) (table.Identifier, error) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 || strings.Contains(s, "..") || strings.HasPrefix(s, ".") {
		return nil, fmt.Errorf("iceberg: table %q: want namespace.name", s)
	}
	return table.Identifier(strings.Split(s, ".")), nil
}

// Write routes b's records to their tables and, per table, commits the
// records not yet in it in one snapshot. See the package doc.
func (s *Sink) Write(ctx context.Context, b *record.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	routes, order, failed := s.route(b)
	if len(order) == 1 && len(failed) == 0 {
		return s.writeTable(ctx, order[0], b) // every record to one table
	}
	for _, tg := range order {
		idx := routes[tg]
		sub := *b
		sub.Records = make([]record.Record, len(idx))
		for k, i := range idx {
			sub.Records[k] = b.Records[i]
		}
		err := s.writeTable(ctx, tg, &sub)
		var be *sinks.BatchError
		switch {
		case err == nil:
		case errors.As(err, &be):
			for k, e := range be.Failed {
				failed[idx[k]] = e
			}
		default:
			// This table's records fail with its error, permanent or
			// not (then only they are retried); the other tables'
			// failures are reported now, not lost in a whole-batch
			// error.
			for _, i := range idx {
				failed[i] = err
			}
		}
	}
	return batchError(failed)
}

// route assigns each record its table: the destination's, or the one a
// processor named in Firehose's otfMetadata (database = namespace). An
// operation other than insert, or a table name that is not one, fails
// the record permanently (iceberg-failed).
func (s *Sink) route(b *record.Batch) (map[*target][]int, []*target, map[int]error) {
	routes := map[*target][]int{}
	var order []*target
	failed := map[int]error{}
	def := s.target(s.cfg.Table, nil)
	for i := range b.Records {
		r := &b.Records[i]
		tg := def
		if op := r.Meta[record.OTFOperation]; op != "" && op != "insert" {
			failed[i] = sinks.Permanent(fmt.Errorf("iceberg: operation %q: Hydrant appends (insert) only; update and delete are not supported", op))
			continue
		}
		if name := r.Meta[record.OTFTable]; name != "" {
			if db := r.Meta[record.OTFDatabase]; db != "" {
				name = db + "." + name
			} else {
				name = strings.Join(catalog.NamespaceFromIdent(def.ident), ".") + "." + name
			}
			ident, err := ParseTable(name)
			if err != nil {
				failed[i] = sinks.Permanent(err)
				continue
			}
			tg = s.target(name, ident)
		}
		if _, ok := routes[tg]; !ok {
			order = append(order, tg)
		}
		routes[tg] = append(routes[tg], i)
	}
	return routes, order, failed
}

// writeTable commits b's records not yet in tg in one snapshot.
func (s *Sink) writeTable(ctx context.Context, tg *target, b *record.Batch) error {
	tbl, err := s.load(ctx, tg)
	if err != nil {
		return err
	}
	writeID := uuid.NewString()
	failed := map[int]error{}
	for round := 0; ; round++ {
		from := skip(tbl, b)
		st, err := s.stateFor(tg, tbl)
		if err != nil {
			return err
		}
		if from > 0 {
			// Records already in the table: the Write that committed them
			// may have ended before it reported those that failed
			// conversion (a lost answer, a cancelled context), so they
			// are checked again; conversion is deterministic.
			recheck(st, b, from, failed)
		}
		if from == len(b.Records) {
			return batchError(failed)
		}
		files, err := s.writeFiles(ctx, tbl, st, b, from, writeID, round, failed)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return batchError(failed) // every record failed conversion
		}
		props := summary(b, writeID)
		for attempt := 1; ; attempt++ {
			err = commit(ctx, tbl, files, props)
			if err == nil {
				return batchError(failed)
			}
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if attempt >= s.cfg.CommitAttempts {
				return fmt.Errorf("iceberg: commit to %s: gave up after %d attempts: %w", tg.name, attempt, err)
			}
			if !errors.Is(err, table.ErrCommitFailed) && !retryable(err) {
				return s.classify(fmt.Errorf("iceberg: commit to %s: %w", tg.name, err))
			}
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
			if tbl, err = s.load(ctx, tg); err != nil {
				return err
			}
			if committedBy(tbl, writeID) {
				return batchError(failed) // the answer was lost, the commit was not
			}
			// Files of a failed attempt are never deleted: whether a
			// commit whose answer was lost landed is only known once it
			// is visible, and a file a snapshot references must stay.
			// An attempt that did not land leaves unreferenced files,
			// which no reader sees.
			if spec := tbl.Spec(); skip(tbl, b) != from || tbl.Schema().ID != st.schemaID || spec.ID() != st.specID {
				// Another writer of the shard committed records of the
				// batch, or the table's schema or spec changed: write
				// the files again.
				break
			}
		}
	}
}

// batchError reports the records that failed.
func batchError(failed map[int]error) error {
	if len(failed) == 0 {
		return nil
	}
	return &sinks.BatchError{Failed: failed}
}

// recheck adds to failed the records of b below from that do not convert
// under st (as writeFiles would have found).
func recheck(st *tableState, b *record.Batch, from int, failed map[int]error) {
	all := make([]int, len(st.schema.Columns))
	for i := range all {
		all[i] = i
	}
	vals, err := columnar.NewValues(st.schema, all)
	if err != nil {
		return // every column index is valid
	}
	p, err := st.newPartitioner()
	if err != nil {
		return // stateFor built one already
	}
	row := make([]any, len(all))
	for i := 0; i < from; i++ {
		if _, ok := failed[i]; ok {
			continue
		}
		err := vals.Get(b.Records[i].Data, row)
		if err == nil && p != nil {
			_, err = p.of(b.Records[i].Data)
		}
		if err != nil {
			failed[i] = columnar.ConversionFailed(err)
		}
	}
}

// commit appends files in one snapshot, asserting the main branch has
// not moved since tbl was loaded.
func commit(ctx context.Context, tbl *table.Table, files []ice.DataFile, props ice.Properties) error {
	tx := tbl.NewTransaction()
	if err := tx.AssertRefSnapshotID(table.MainBranch); err != nil {
		return err
	}
	if err := tx.AssertDefaultShape(); err != nil { // the files follow the spec read
		return err
	}
	// The file names are new (a write id in each), so iceberg-go's
	// check for files already in the table, which reads every
	// manifest, is skipped.
	if err := tx.AddDataFiles(ctx, files, props, table.WithoutDuplicateCheck()); err != nil {
		return err
	}
	_, err := tx.Commit(ctx)
	return err
}

// summary is the snapshot summary identifying b.
func summary(b *record.Batch, writeID string) ice.Properties {
	id := b.ID()
	return ice.Properties{
		PropPipeline:    id.Pipeline,
		PropDestination: id.Destination,
		PropShard:       string(id.Shard),
		PropFirst:       formatPos(id.First),
		PropLast:        formatPos(b.Records[len(b.Records)-1].Pos()),
		PropWrite:       writeID,
	}
}

func formatPos(p record.Position) string {
	return strconv.FormatUint(p.Seq, 10) + "." + strconv.FormatUint(uint64(p.Sub), 10)
}

func parsePos(s string) (record.Position, bool) {
	seq, sub, ok := strings.Cut(s, ".")
	if !ok {
		return record.Position{}, false
	}
	q, err1 := strconv.ParseUint(seq, 10, 64)
	u, err2 := strconv.ParseUint(sub, 10, 32)
	return record.Position{Seq: q, Sub: uint32(u)}, err1 == nil && err2 == nil
}

// ancestors yields the snapshots of the main branch, newest first.
func ancestors(tbl *table.Table) iter.Seq[*table.Snapshot] {
	return func(yield func(*table.Snapshot) bool) {
		meta := tbl.Metadata()
		for snap := tbl.CurrentSnapshot(); snap != nil && yield(snap); {
			if snap.ParentSnapshotID == nil {
				return
			}
			snap = meta.SnapshotByID(*snap.ParentSnapshotID)
		}
	}
}

// committed finds the newest snapshot on the main branch that b's
// destination and shard committed.
func committed(tbl *table.Table, b *record.Batch) (*table.Snapshot, record.Position, bool) {
	for snap := range ancestors(tbl) {
		if p := snap.Summary; p != nil && p.Properties[PropShard] == string(b.Shard) &&
			p.Properties[PropDestination] == b.Destination && p.Properties[PropPipeline] == b.Pipeline {
			if pos, ok := parsePos(p.Properties[PropLast]); ok {
				return snap, pos, true
			}
		}
	}
	return nil, record.Position{}, false
}

// skip returns the index of b's first record not yet in the table.
func skip(tbl *table.Table, b *record.Batch) int {
	_, done, ok := committed(tbl, b)
	if !ok {
		return 0
	}
	from := 0
	for from < len(b.Records) && !done.Less(b.Records[from].Pos()) {
		from++
	}
	return from
}

// committedBy reports whether a snapshot on the main branch carries
// writeID: the commit of this Write landed.
func committedBy(tbl *table.Table, writeID string) bool {
	for snap := range ancestors(tbl) {
		if snap.Summary != nil && snap.Summary.Properties[PropWrite] == writeID {
			return true
		}
	}
	return false
}

// load returns tg's table, creating its namespace and itself from the
// schema when missing and tg may be created.
func (s *Sink) load(ctx context.Context, tg *target) (*table.Table, error) {
	cat, err := s.cat.Open(ctx)
	if err != nil {
		return nil, err
	}
	tbl, err := cat.LoadTable(ctx, tg.ident)
	if err == nil {
		return tbl, nil
	}
	if !errors.Is(err, catalog.ErrNoSuchTable) {
		return nil, fmt.Errorf("iceberg: load table %s: %w", tg.name, err)
	}
	switch {
	case tg.name != s.cfg.Table:
		return nil, sinks.Permanent(fmt.Errorf("iceberg: table %s, which records are routed to, does not exist (only the destination's own table is created)", tg.name))
	case !tg.create:
		return nil, fmt.Errorf("iceberg: table %s does not exist, and without format.schema it cannot be created", tg.name)
	}
	ns := catalog.NamespaceFromIdent(tg.ident)
	if err := cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return nil, fmt.Errorf("iceberg: create namespace %s: %w", strings.Join(ns, "."), err)
	}
	ts := TableSchema(tg.schema)
	opts := []catalog.CreateTableOpt{catalog.WithProperties(ice.Properties{
		"write.format.default":            "parquet",
		"write.parquet.compression-codec": s.cfg.Compression,
	})}
	if len(s.cfg.PartitionBy) > 0 {
		spec, err := partitionSpec(s.cfg.PartitionBy, ts)
		if err != nil {
			return nil, sinks.Permanent(fmt.Errorf("iceberg: %w", err))
		}
		opts = append(opts, catalog.WithPartitionSpec(spec))
	}
	tbl, err = cat.CreateTable(ctx, tg.ident, ts, opts...)
	if errors.Is(err, catalog.ErrTableAlreadyExists) {
		tbl, err = cat.LoadTable(ctx, tg.ident) // created by another writer meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("iceberg: create table %s: %w", tg.name, err)
	}
	return tbl, nil
}

// stateFor returns the encoder and partitioner for tbl's current schema
// and spec, built once per schema and spec.
func (s *Sink) stateFor(tg *target, tbl *table.Table) (*tableState, error) {
	ts, spec := tbl.Schema(), tbl.Spec()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if st := tg.state; st != nil && st.schemaID == ts.ID && st.specID == spec.ID() {
		return st, nil
	}
	schema := tg.schema
	if schema == nil {
		var err error
		if schema, err = columnarSchema(tg.name, ts); err != nil {
			return nil, sinks.Permanent(fmt.Errorf("iceberg: table %s: %w", tg.name, err))
		}
	} else if err := checkCompatible(schema, ts); err != nil {
		// Retrying cannot help until someone changes the table or the
		// file: the records go to the backup as iceberg-failed.
		return nil, sinks.Permanent(fmt.Errorf("iceberg: the schema file does not fit table %s: %w", tg.name, err))
	}
	enc, err := columnar.NewEncoder(columnar.Parquet, s.cfg.Compression, schema)
	if err != nil {
		return nil, fmt.Errorf("iceberg: %w", err)
	}
	if _, err := newPartitioner(spec, ts, schema); err != nil {
		return nil, sinks.Permanent(fmt.Errorf("iceberg: table %s: %w", tg.name, err))
	}
	st := &tableState{schemaID: ts.ID, specID: spec.ID(), schema: schema, enc: enc, spec: spec, logical: logicalTypes(spec, ts),
		newPartitioner: func() (*partitioner, error) { return newPartitioner(spec, ts, schema) }}
	tg.state = st
	return st, nil
}

// logicalTypes names the Avro logical type of each partition field whose
// values are dates or timestamps, as the manifest writer needs them.
func logicalTypes(spec ice.PartitionSpec, ts *ice.Schema) map[int]string {
	out := map[int]string{}
	for _, f := range spec.Fields() {
		src, ok := ts.FindFieldByID(f.SourceID())
		if !ok {
			continue
		}
		switch f.Transform.ResultType(src.Type).(type) {
		case ice.DateType:
			out[f.FieldID] = "date"
		case ice.TimestampType, ice.TimestampTzType:
			out[f.FieldID] = "timestamp-micros"
		}
	}
	return out
}

// writeFiles writes b.Records[from:] as Parquet data files, one per
// partition, into the table's data location. Records that do not fit
// the schema are added to failed.
func (s *Sink) writeFiles(ctx context.Context, tbl *table.Table, st *tableState, b *record.Batch, from int, writeID string, round int, failed map[int]error) ([]ice.DataFile, error) {
	groups, order, err := s.group(st, b, from, failed)
	if err != nil {
		return nil, err
	}
	wfs, err := tableFiles(ctx, tbl)
	if err != nil {
		return nil, err
	}
	locs, err := tbl.LocationProvider()
	if err != nil {
		return nil, sinks.Permanent(fmt.Errorf("iceberg: %w", err))
	}
	sum := sha256.Sum256([]byte(b.ID().String()))
	base := hex.EncodeToString(sum[:8]) + "-" + writeID
	var files []ice.DataFile
	// Files written before a failure are removed: no commit names them.
	remove := func(paths ...string) {
		for _, f := range files {
			_ = wfs.Remove(f.FilePath())
		}
		for _, p := range paths {
			_ = wfs.Remove(p)
		}
	}
	for n, key := range order {
		g := groups[key]
		name := fmt.Sprintf("%s-%d-%d.parquet", base, round, n)
		if g.part.path != "" {
			name = g.part.path + "/" + name
		}
		path := locs.NewDataLocation(name)
		rows, size, err := writeParquet(ctx, wfs, path, st.enc, b.Records, g.idx, failed)
		if err != nil {
			remove(path)
			return nil, s.classify(fmt.Errorf("iceberg: write %s: %w", path, err))
		}
		if rows == 0 {
			_ = wfs.Remove(path)
			continue
		}
		bld, err := ice.NewDataFileBuilder(st.spec, ice.EntryContentData, path, ice.ParquetFile, g.part.values, st.logical, nil, int64(rows), size)
		if err != nil {
			remove(path)
			return nil, s.classify(fmt.Errorf("iceberg: data file %s: %w", path, err))
		}
		files = append(files, bld.Build())
	}
	return files, nil
}

// tableFiles returns the file system of tbl for one Write. It is not
// kept between Writes: iceberg-go binds it to the context it was made
// with, and a Write must stop when its context is cancelled.
func tableFiles(ctx context.Context, tbl *table.Table) (icebergio.WriteFileIO, error) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("iceberg: table files: %w", err)
	}
	wfs, ok := fs.(icebergio.WriteFileIO)
	if !ok {
		return nil, sinks.Permanent(fmt.Errorf("iceberg: the file system of %s cannot write", tbl.Location()))
	}
	return wfs, nil
}

// group is the records of one partition.
type group struct {
	part partition
	idx  []int
}

// group splits b.Records[from:] by partition, in order of first
// appearance. Records whose partition value does not convert fail.
func (s *Sink) group(st *tableState, b *record.Batch, from int, failed map[int]error) (map[string]*group, []string, error) {
	p, err := st.newPartitioner()
	if err != nil {
		return nil, nil, err
	}
	all := make([]int, 0, len(b.Records)-from)
	for i := from; i < len(b.Records); i++ {
		if _, bad := failed[i]; !bad {
			all = append(all, i)
		}
	}
	if p == nil {
		return map[string]*group{"": {idx: all}}, []string{""}, nil
	}
	groups := map[string]*group{}
	var order []string
	for _, i := range all {
		part, err := p.of(b.Records[i].Data)
		if err != nil {
			failed[i] = columnar.ConversionFailed(err)
			continue
		}
		g := groups[part.key]
		if g == nil {
			g = &group{part: part}
			groups[part.key] = g
			order = append(order, part.key)
		}
		g.idx = append(g.idx, i)
	}
	return groups, order, nil
}

// writeParquet writes records idx of recs into one file at path and
// returns its row count and size.
func writeParquet(ctx context.Context, fs icebergio.WriteFileIO, path string, enc *columnar.Encoder, recs []record.Record, idx []int, failed map[int]error) (int, int64, error) {
	f, err := fs.Create(path)
	if err != nil {
		return 0, 0, err
	}
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 64<<10)
	fw := enc.NewWriter(bw)
	if err := columnar.WriteRecords(ctx, fw, recs, idx, failed); err != nil {
		_ = f.Close()
		return 0, 0, err
	}
	if err := fw.Close(); err != nil {
		_ = f.Close()
		return 0, 0, err
	}
	if err := bw.Flush(); err != nil {
		_ = f.Close()
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, err
	}
	return fw.Rows(), cw.n, nil
}

type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// backoff is the wait before commit attempt n+1: 50 ms doubling to 5 s,
// with jitter, so that writers that collided spread out.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n-1, 7)
	d = min(d, 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// retryable reports whether a commit error may have been a conflict or a
// transient failure rather than a refusal of the commit itself.
func retryable(err error) bool {
	return !errors.Is(err, ice.ErrInvalidArgument)
}

// classify marks errors no retry can fix as permanent.
func (s *Sink) classify(err error) error {
	if errors.Is(err, ice.ErrInvalidArgument) {
		return sinks.Permanent(err)
	}
	return err
}

// Close does nothing: the catalog belongs to the store.
func (s *Sink) Close(context.Context) error { return nil }

// Check reports whether the catalog answers and the table exists or can
// be created.
func (s *Sink) Check(ctx context.Context) error {
	cat, err := s.cat.Open(ctx)
	if err != nil {
		return err
	}
	tg := s.target(s.cfg.Table, nil)
	ok, err := cat.CheckTableExists(ctx, tg.ident)
	if err != nil {
		return fmt.Errorf("iceberg: table %s: %w", s.cfg.Table, err)
	}
	if !ok {
		if s.cfg.Schema == nil {
			return fmt.Errorf("iceberg: table %s does not exist, and without format.schema it cannot be created", s.cfg.Table)
		}
		return nil // created on the first flush
	}
	tbl, err := cat.LoadTable(ctx, tg.ident)
	if err != nil {
		return fmt.Errorf("iceberg: load table %s: %w", s.cfg.Table, err)
	}
	_, err = s.stateFor(tg, tbl)
	return err
}
