package cosmos

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/extension/driver"
)

type outputConfig struct {
	DatabaseName        string `binding:"databaseName,required"`
	ContainerName       string `binding:"containerName,required"`
	CreateIfNotExists   bool   `binding:"createIfNotExists"`
	PartitionKey        string `binding:"partitionKey"`
	ContainerThroughput int    `binding:"containerThroughput"`
	PreferredLocations  string `binding:"preferredLocations"`
}

type output struct {
	acct       *account
	where      string
	db, coll   *driver.Template
	create     bool
	pkPath     string
	throughput int
	logger     *slog.Logger
}

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	var cfg outputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	for _, p := range []string{"id", "sqlQuery"} {
		if v, ok := bc.Spec.Prop(p); ok && v != nil && v != "" {
			return nil, bc.Errorf(p, "remove it from the output binding", "applies to cosmosDB inputs only")
		}
	}
	if cfg.ContainerThroughput < 0 {
		return nil, bc.Errorf("containerThroughput", "use a positive number of RU/s, or leave it out", "must not be negative")
	}
	if cfg.PartitionKey != "" && cfg.PartitionKey[0] != '/' {
		return nil, bc.Errorf("partitionKey", `use a path such as "/pk"`, "%q is not a partition-key path (on an output it is the path used when the container is created)", cfg.PartitionKey)
	}
	opts, err := decodeOptions(ctx, bc)
	if err != nil {
		return nil, err
	}
	o := &output{where: bc.Spec.Where, create: cfg.CreateIfNotExists, pkPath: cfg.PartitionKey, throughput: cfg.ContainerThroughput,
		logger: bc.Host.Logger}
	if o.pkPath == "" {
		o.pkPath = "/id"
	}
	if o.db, err = bc.Template("databaseName"); err != nil {
		return nil, err
	}
	if o.coll, err = bc.Template("containerName"); err != nil {
		return nil, err
	}
	if o.acct, err = accountFor(ctx, bc, "connection", opts, splitLocations(cfg.PreferredLocations)); err != nil {
		return nil, err
	}
	return o, nil
}

// Open implements driver.Output.
func (o *output) Open(_ context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	db, err := o.db.Eval(fc)
	if err != nil {
		return nil, err
	}
	coll, err := o.coll.Eval(fc)
	if err != nil {
		return nil, err
	}
	if db == "" || coll == "" {
		return nil, fmt.Errorf("%s: databaseName and containerName must not be empty (got %q, %q)", o.where, db, coll)
	}
	logger := o.logger
	if fc != nil && fc.InvocationID() != "" {
		logger = fc.Logger()
	}
	return &sink{o: o, db: db, coll: coll, logger: logger}, nil
}

// sink buffers documents until Flush. The runtime serialises its Add and Flush calls
// (driver.Sink), so it has no lock of its own.
type sink struct {
	o        *output
	db, coll string
	logger   *slog.Logger
	docs     []doc
}

// Add implements driver.Sink: it checks and buffers the document(s); nothing is written before
// Flush.
func (s *sink) Add(_ context.Context, item any) error {
	ds, err := documents(item)
	if err != nil {
		return fmt.Errorf("%s: %w", s.o.where, err)
	}
	s.docs = append(s.docs, ds...)
	return nil
}

// Flush implements driver.Sink: it upserts the buffered documents, in order, creating the
// database and container first when they are missing and createIfNotExists is set.
func (s *sink) Flush(ctx context.Context) error {
	docs := s.docs
	s.docs = nil
	if len(docs) == 0 {
		return nil
	}
	cc, paths, err := s.o.container(ctx, s.db, s.coll)
	if err != nil {
		return err
	}
	for i, d := range docs {
		pk, err := d.partitionKey(paths)
		if err != nil {
			return fmt.Errorf("%s: %w", s.o.where, err)
		}
		if _, err := cc.UpsertItem(ctx, pk, d.raw, nil); err != nil {
			return fmt.Errorf("%s: upserting document %q into container %q (in database %q), %d of %d: %w", s.o.where, d.id, s.coll, s.db, i+1, len(docs), err)
		}
	}
	s.logger.DebugContext(ctx, "cosmos output written", "database", s.db, "container", s.coll, "documents", len(docs))
	return nil
}

// container returns the container client and its partition-key paths, creating the database and
// container when allowed.
func (o *output) container(ctx context.Context, db, coll string) (*azcosmos.ContainerClient, []string, error) {
	cc, err := o.acct.client.NewContainer(db, coll)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.where, err)
	}
	paths, err := o.acct.partitionKeyPaths(ctx, db, coll)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading container %q (in database %q): %w", o.where, coll, db, err)
	}
	if paths != nil {
		return cc, paths, nil
	}
	if !o.create {
		//lint:ignore ST1005 the real extension's message, verbatim
		return nil, nil, fmt.Errorf("%s: The container '%s' (in database '%s') does not exist. To automatically create the container, set 'CreateIfNotExists' to 'true'.", o.where, coll, db)
	}
	if err := ensureContainer(ctx, o.acct.client, db, coll, o.pkPath, o.throughput); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.where, err)
	}
	o.logger.InfoContext(ctx, "cosmos output created the container", "database", db, "container", coll, "partitionKey", o.pkPath)
	paths, err = o.acct.partitionKeyPaths(ctx, db, coll)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading container %q (in database %q) after creating it: %w", o.where, coll, db, err)
	}
	if paths == nil {
		return nil, nil, fmt.Errorf("%s: container %q (in database %q) still missing after creating it", o.where, coll, db)
	}
	return cc, paths, nil
}
