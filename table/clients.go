package table

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// accountKey identifies a host's shared account: one per resolved connection.
type accountKey struct{ name, key, endpoint string }

// account is a service client plus the tables it has created.
type account struct {
	svc      *aztables.ServiceClient
	createMu sync.Mutex
}

// accountFor resolves the binding's connection and returns the host's shared account for it.
func accountFor(ctx context.Context, bc *driver.BindContext) (*account, error) {
	c, err := bc.Connection(ctx, connection.Table)
	if err != nil {
		return nil, err
	}
	open := func(context.Context) (*account, error) {
		svc, err := NewServiceClient(c)
		if err != nil {
			return nil, err
		}
		return &account{svc: svc}, nil
	}
	a, err := driver.Shared(ctx, bc.Host, accountKey{strings.ToLower(c.Name), c.Key, c.Endpoint}, open)
	if err != nil {
		return nil, fmt.Errorf("%s: connection %q: %w", bc.Spec.Where, c.Name, err)
	}
	return a, nil
}

// NewServiceClient builds the aztables service client for a resolved connection, with
// c.SDKOptions(). Bindings and Check both use it.
func NewServiceClient(c *connection.Connection) (*aztables.ServiceClient, error) {
	opts := &aztables.ClientOptions{ClientOptions: c.SDKOptions()}
	switch c.Kind {
	case connection.KindConnectionString:
		// aztables ignores TableEndpoint when the connection string carries a SAS (it always
		// builds https://<account>.table.core.windows.net), which breaks emulators and custom
		// endpoints; use the endpoint with the SAS directly in that case.
		if ep, sas := sasEndpoint(c.ConnectionString); ep != "" && sas != "" {
			return aztables.NewServiceClientWithNoCredential(strings.TrimSuffix(ep, "/")+"/?"+strings.TrimPrefix(sas, "?"), opts)
		}
		svc, err := aztables.NewServiceClientFromConnectionString(c.ConnectionString, opts)
		if err != nil {
			return nil, fmt.Errorf("invalid Azure Tables connection string (%s): %w", c.Key, err)
		}
		return svc, nil
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, fmt.Errorf("identity connection %s has no table endpoint: set %s__tableServiceUri or %s__accountName: %w",
				c.Key, c.Name, c.Name, driver.ErrInvalidConfig)
		}
		return aztables.NewServiceClient(c.Endpoint, c.Credential, opts)
	}
	return nil, fmt.Errorf("unsupported connection kind %q: %w", c.Kind, driver.ErrInvalidConfig)
}

// sasEndpoint returns TableEndpoint and SharedAccessSignature of a connection string when both
// are present.
func sasEndpoint(cs string) (endpoint, sas string) {
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "tableendpoint":
			endpoint = strings.TrimSpace(v)
		case "sharedaccesssignature":
			sas = strings.TrimSpace(v)
		}
	}
	return endpoint, sas
}

// createTable creates name, tolerating a table that already exists.
func (a *account) createTable(ctx context.Context, name string) error {
	a.createMu.Lock()
	defer a.createMu.Unlock()
	_, err := a.svc.CreateTable(ctx, name, nil)
	var re *azcore.ResponseError
	if err == nil || errors.As(err, &re) && (re.StatusCode == http.StatusConflict || re.ErrorCode == string(aztables.TableAlreadyExists)) {
		return nil
	}
	return fmt.Errorf("table: create table %q: %w", name, err)
}

// isNotFound reports a 404 from the service (missing entity or table).
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// Check proves that c works for tables with one cheap authenticated call (get service
// properties) through the client the bindings use — with a SAS connection string that is its
// TableEndpoint; `azbind connection resolve --check` calls it.
func Check(ctx context.Context, c *connection.Connection) error {
	svc, err := NewServiceClient(c)
	if err != nil {
		return err
	}
	_, err = svc.GetProperties(ctx, nil)
	return err
}
