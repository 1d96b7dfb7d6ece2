package extension_test

import (
	"context"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

type panickyCloser struct{}

func (panickyCloser) Close() error { panic("close panicked") }

type panickyInput struct{}

func (panickyInput) Bind(context.Context, *extension.FunctionContext) (any, error) {
	return panickyCloser{}, nil
}

func init() {
	driver.Register(driver.Extension{Name: "panickyclose", Bindings: []driver.BindingType{
		{Type: "panickyCloseIn", NewInput: func(context.Context, *driver.BindContext) (driver.Input, error) { return panickyInput{}, nil }},
	}})
}

// A binding value whose Close panics does not crash the host: the panic is logged, and since the
// handler's work (outputs included) is done, the invocation's outcome stands.
func TestPanickingCloserFailsInvocation(t *testing.T) {
	name, q := newQueue(t)
	o := opts(nil)
	o.HostConfig = &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}}
	run(t, o, "closer", extension.Reflect(func(ctx context.Context, s string, v any) error { return nil }),
		trig(name), extension.Binding("panickyCloseIn", "v", extension.DirIn, nil))
	q.Send([]byte("x"))
	q.Send([]byte("y"))
	waitFor(t, "both acknowledged", func() bool { return len(q.Acked()) == 2 })
}
