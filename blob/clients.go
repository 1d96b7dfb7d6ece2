package blob

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/hoststore"
)

// NewServiceClient builds a blob service client from a resolved connection: from its connection
// string, or from its endpoint and token credential (identity), with c.SDKOptions(). Bindings and
// Check both use it.
func NewServiceClient(c *connection.Connection) (*service.Client, error) {
	return hoststore.ServiceClient(c)
}

// accountKey identifies a storage account endpoint (scheme://host/path without query), lower-cased.
func accountKey(serviceURL string) string {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return strings.ToLower(strings.TrimRight(serviceURL, "/"))
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.ToLower(strings.TrimRight(u.String(), "/"))
}

// accountName returns the storage account name of a service URL: the first path segment for
// emulator-style URLs (http://127.0.0.1:10000/devstoreaccount1), else the first host label.
func accountName(serviceURL string) string {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return "unknown"
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		first, _, _ := strings.Cut(p, "/")
		return first
	}
	host := u.Hostname()
	first, _, _ := strings.Cut(host, ".")
	return first
}

// queueConnection resolves the connection for the trigger's internal queues
// (azure-webjobs-blobtrigger-<hostId> and webjobs-blobtrigger-poison): the binding's own
// connection for the queue service, falling back to the host's default storage connection
// (AzureWebJobsStorage) when the binding's connection has no queue endpoint (the `serviceUri`
// identity form), as the Functions docs describe for the poison queue (C10). Deliberate
// difference: the real host keeps the internal hand-over queue in the AzureWebJobsStorage account;
// azbind keeps it in the trigger's account, next to the receipts (which the real code also keeps
// there), so that one account holds all of a trigger's state.
func queueConnection(ctx context.Context, bc *driver.BindContext) (*connection.Connection, error) {
	c, err := bc.Connection(ctx, connection.Queue)
	if err == nil && (c.Kind == connection.KindConnectionString || c.Endpoint != "") {
		return c, nil
	}
	if hc, herr := bc.Host.Connections.Resolve(ctx, "", connection.Queue); herr == nil && (hc.Kind == connection.KindConnectionString || hc.Endpoint != "") {
		return hc, nil
	}
	if err == nil {
		err = fmt.Errorf("connection %q has no queue endpoint: %w", c.Name, driver.ErrInvalidConfig)
	}
	return nil, bc.Errorf("connection", "set <connection>__queueServiceUri, or configure AzureWebJobsStorage", "the blob trigger needs a queue endpoint on the same account for its internal queues: %w", err)
}

// bindingClient decodes a blob input or output binding's required path, compiles it as a
// template, and builds the blob service client from the binding's connection.
func bindingClient(ctx context.Context, bc *driver.BindContext) (*service.Client, *connection.Connection, *driver.Template, error) {
	var cfg struct {
		Path string `binding:"path,required"`
	}
	if err := bc.Decode(&cfg); err != nil {
		return nil, nil, nil, err
	}
	c, err := bc.Connection(ctx, connection.Blob)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := NewServiceClient(c)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", bc.Spec.Where, err)
	}
	t, err := bc.Template("path")
	if err != nil {
		return nil, nil, nil, err
	}
	return svc, c, t, nil
}

// Check proves that c works for blobs with one cheap authenticated call (get service
// properties) through the client the bindings use; `azbind connection resolve --check` calls it.
func Check(ctx context.Context, c *connection.Connection) error {
	svc, err := NewServiceClient(c)
	if err != nil {
		return err
	}
	_, err = svc.GetProperties(ctx, nil)
	return err
}
