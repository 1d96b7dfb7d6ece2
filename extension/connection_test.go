package extension_test

import (
	"context"
	"sync"
	"testing"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// A trigger type that resolves its connection at build time.
func init() {
	driver.Register(driver.Extension{Name: "conntest", Bindings: []driver.BindingType{{
		Type: "connTestTrigger", Service: connection.Queue,
		NewTrigger: func(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
			if _, err := bc.Connection(ctx, connection.Queue); err != nil {
				return nil, err
			}
			return idleTrigger{}, nil
		},
	}}})
}

type idleTrigger struct{}

func (idleTrigger) Run(ctx context.Context, _ driver.Executor) error { <-ctx.Done(); return nil }

type recordingResolver struct {
	mu    sync.Mutex
	names []string
}

func (r *recordingResolver) Resolve(_ context.Context, name string, svc connection.Service) (*connection.Connection, error) {
	if svc != connection.Queue { // the host's own AzureWebJobsStorage lookup for host storage
		return nil, &connection.ResolveError{Name: name, Service: svc, Err: connection.ErrNotFound}
	}
	r.mu.Lock()
	r.names = append(r.names, name)
	r.mu.Unlock()
	return &connection.Connection{Name: name, Service: svc}, nil
}

// The resolver gets the connection name as declared and expands %setting% itself, once (C5): a
// setting whose value contains '%' must not be expanded twice.
func TestConnectionNameExpandedOnce(t *testing.T) {
	rr := &recordingResolver{}
	o := opts(map[string]string{"ConnName": "My%Conn"})
	o.Connections = rr
	host, _ := extension.NewHost(o)
	_ = host.Func("conn", extension.Action(func(context.Context, string) error { return nil }),
		extension.Binding("connTestTrigger", "x", extension.DirIn, extension.Props{"connection": "%ConnName%"}))
	if err := host.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rr.names) != 1 || rr.names[0] != "%ConnName%" {
		t.Errorf("resolver got %q, want the declared name %q", rr.names, "%ConnName%")
	}
}
