package cosmos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// account is one resolved connection's client, shared by every binding of a host that uses the
// same connection (driver.Shared).
type account struct {
	client   *azcosmos.Client
	conn     *connection.Connection
	endpoint string

	mu      sync.Mutex
	pkPaths map[string][]string // "db/container" → partition-key paths of containers seen
}

// partitionKeyPaths returns the container's partition-key paths (cached), or nil when the
// container does not exist.
func (a *account) partitionKeyPaths(ctx context.Context, db, container string) ([]string, error) {
	key := db + "/" + container
	a.mu.Lock()
	paths, ok := a.pkPaths[key]
	a.mu.Unlock()
	if ok {
		return paths, nil
	}
	props, err := containerProps(ctx, a.client, db, container)
	if err != nil || props == nil {
		return nil, err
	}
	paths = props.PartitionKeyDefinition.Paths
	if len(paths) == 0 {
		paths = []string{"/id"}
	}
	a.mu.Lock()
	if a.pkPaths == nil {
		a.pkPaths = map[string][]string{}
	}
	a.pkPaths[key] = paths
	a.mu.Unlock()
	return paths, nil
}

type clientKey struct {
	name, key, source, endpoint string
	kind                        connection.Kind
	opts                        string
}

// accountFor resolves the binding's `connection` (default CosmosDB) and returns the host's
// client for it. prop names the property that holds the connection name (connection or
// leaseConnection).
func accountFor(ctx context.Context, bc *driver.BindContext, prop string, opts *Options, preferred []string) (*account, error) {
	var c *connection.Connection
	var err error
	if prop == "connection" {
		c, err = bc.Connection(ctx, connection.Cosmos)
	} else {
		name, serr := bc.Spec.String(prop)
		if serr != nil {
			return nil, serr
		}
		c, err = bc.Host.Connections.Resolve(ctx, name, connection.Cosmos)
	}
	if err != nil {
		return nil, err
	}
	key := clientKey{name: c.Name, key: c.Key, source: c.Source, endpoint: c.Endpoint, kind: c.Kind, opts: opts.clientKey(preferred)}
	return driver.Shared(ctx, bc.Host, key, func(context.Context) (*account, error) {
		cl, err := newClient(c, opts, preferred)
		if err != nil {
			return nil, bc.Errorf(prop, "check the connection's AccountEndpoint and AccountKey (or accountEndpoint and the identity settings)", "cannot build a Cosmos DB client: %w", err)
		}
		return &account{client: cl, conn: c, endpoint: cl.Endpoint()}, nil
	})
}

// newClient builds the azcosmos client for c exactly as every binding and Check do.
func newClient(c *connection.Connection, opts *Options, preferred []string) (*azcosmos.Client, error) {
	co := &azcosmos.ClientOptions{ClientOptions: c.SDKOptions()}
	if opts != nil {
		if opts.UserAgentSuffix != "" {
			co.Telemetry.ApplicationID = opts.UserAgentSuffix
		}
	}
	co.PreferredRegions = preferred
	switch c.Kind {
	case connection.KindConnectionString:
		return azcosmos.NewClientFromConnectionString(c.ConnectionString, co)
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, errors.New("the identity connection has no accountEndpoint")
		}
		return azcosmos.NewClient(c.Endpoint, c.Credential, co)
	}
	return nil, fmt.Errorf("connection kind %q is not supported for Cosmos DB", c.Kind)
}

// check is Extension.Check: one cheap authenticated call (the first page of the databases).
func check(ctx context.Context, c *connection.Connection) error {
	cl, err := newClient(c, nil, nil)
	if err != nil {
		return fmt.Errorf("cosmos: %w", err)
	}
	pager := cl.NewQueryDatabasesPager("SELECT * FROM c", nil)
	if _, err := pager.NextPage(ctx); err != nil {
		return fmt.Errorf("cosmos: listing databases at %s: %w", cl.Endpoint(), err)
	}
	return nil
}

// statusOf returns the HTTP status of an azcosmos error (0 if it is not a response error).
func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func isNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }
func isConflict(err error) bool { return statusOf(err) == http.StatusConflict }
func isPrecondition(err error) bool {
	return statusOf(err) == http.StatusPreconditionFailed
}

// containerExists reads the container's properties; a 404 gives (nil, nil).
func containerProps(ctx context.Context, cl *azcosmos.Client, db, container string) (*azcosmos.ContainerProperties, error) {
	cc, err := cl.NewContainer(db, container)
	if err != nil {
		return nil, err
	}
	resp, err := cc.Read(ctx, nil)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return resp.ContainerProperties, nil
}

// ensureContainer creates the database (if needed) and the container with partition-key path
// pkPath and, when throughput > 0, that manual throughput. An existing container is kept.
func ensureContainer(ctx context.Context, cl *azcosmos.Client, db, container, pkPath string, throughput int) error {
	if _, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: db}, nil); err != nil && !isConflict(err) {
		return fmt.Errorf("creating database %q: %w", db, err)
	}
	dbc, err := cl.NewDatabase(db)
	if err != nil {
		return err
	}
	var co *azcosmos.CreateContainerOptions
	if throughput > 0 {
		tp := azcosmos.NewManualThroughputProperties(int32(throughput))
		co = &azcosmos.CreateContainerOptions{ThroughputProperties: &tp}
	}
	props := azcosmos.ContainerProperties{ID: container, PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{pkPath}}}
	if _, err := dbc.CreateContainer(ctx, props, co); err != nil && !isConflict(err) {
		return fmt.Errorf("creating container %q (in database %q): %w", container, db, err)
	}
	return nil
}
