package memconn

import (
	"context"
	"errors"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// client is a host's handle on the simulated service, as an SDK client is a real connector's: it
// is built in one place (newClient), every binding gets the host's one client through clientFor
// (a driver.Shared value), and Check uses the same constructor.
type client struct{ b *Broker }

// newClient builds the client. The in-memory service needs no connection (memconn's bindings
// have none), so c is ignored; a real connector builds its SDK client from c.SDKOptions() here.
func newClient(_ *connection.Connection) (*client, error) {
	if Default == nil {
		return nil, errors.New("memconn: no broker")
	}
	return &client{b: Default}, nil
}

// clientKey is the key of the host's shared client.
type clientKey struct{}

// clientFor returns the host's shared client.
func clientFor(ctx context.Context, bc *driver.BindContext) (*client, error) {
	return driver.Shared(ctx, bc.Host, clientKey{}, func(context.Context) (*client, error) { return newClient(nil) })
}

// ping is the service's cheapest call: it answers when the broker does.
func (c *client) ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.b.queues == nil {
		return errors.New("memconn: the broker is not initialised")
	}
	return nil
}

// Check proves the service answers with one cheap call through the client the bindings use
// (driver.Extension.Check, like database/sql's Pinger).
func Check(ctx context.Context, c *connection.Connection) error {
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	return cl.ping(ctx)
}
