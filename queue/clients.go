package queue

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// NewServiceClient builds an azqueue service client from a resolved connection: from its connection
// string, or from its endpoint and token credential (identity). c.ClientOptions are used as they
// are; when they carry no transport, a pooled HTTP client sized for the listener's concurrency is
// used.
func NewServiceClient(c *connection.Connection) (*azqueue.ServiceClient, error) {
	if c == nil {
		return nil, fmt.Errorf("queue: nil connection")
	}
	opts := &azqueue.ClientOptions{ClientOptions: c.SDKOptions()}
	var (
		svc *azqueue.ServiceClient
		err error
	)
	switch c.Kind {
	case connection.KindConnectionString:
		svc, err = azqueue.NewServiceClientFromConnectionString(c.ConnectionString, opts)
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, fmt.Errorf("queue: connection %q has no queue service endpoint: set %s__queueServiceUri (or __serviceUri, or __accountName)", c.Name, c.Name)
		}
		svc, err = azqueue.NewServiceClient(c.Endpoint, c.Credential, opts)
	default:
		return nil, fmt.Errorf("queue: connection %q has unsupported kind %q", c.Name, c.Kind)
	}
	if err != nil {
		// The SDK's messages name missing fields, never the secret itself.
		return nil, fmt.Errorf("queue: connection %q (%s %s): %w", c.Name, c.Source, c.Key, err)
	}
	return svc, nil
}

// clientKey identifies a host's shared service client: one per resolved connection.
type clientKey struct{ name, key, endpoint string }

// bindingServiceClient resolves the binding's connection and returns the host's shared queue
// service client for it.
func bindingServiceClient(ctx context.Context, bc *driver.BindContext) (*azqueue.ServiceClient, error) {
	conn, err := bc.Connection(ctx, connection.Queue)
	if err != nil {
		return nil, err
	}
	open := func(context.Context) (*azqueue.ServiceClient, error) { return NewServiceClient(conn) }
	svc, err := driver.Shared(ctx, bc.Host, clientKey{strings.ToLower(conn.Name), conn.Key, conn.Endpoint}, open)
	if err != nil {
		return nil, fmt.Errorf("%s: connection: %w", bc.Spec.Where, err)
	}
	return svc, nil
}

// Check proves that c works for queues with one cheap authenticated call (get service
// properties) through the client the bindings use; `azbind connection resolve --check` calls it.
func Check(ctx context.Context, c *connection.Connection) error {
	svc, err := NewServiceClient(c)
	if err != nil {
		return err
	}
	_, err = svc.GetServiceProperties(ctx, nil)
	return err
}
