package extension

import (
	"context"

	"github.com/azbind/azbind/extension/driver"
)

type fcKey struct{}

// FromContext returns the invocation's FunctionContext, or nil outside an invocation.
func FromContext(ctx context.Context) *FunctionContext {
	fc, _ := ctx.Value(fcKey{}).(*driver.FunctionContext)
	return fc
}

// NewContext returns ctx carrying fc; for tests of bindings and middleware.
func NewContext(ctx context.Context, fc *FunctionContext) context.Context {
	return context.WithValue(ctx, fcKey{}, fc)
}

// Collector[T] is a handler parameter that writes any number of items to an output binding
// (IAsyncCollector). Declare the parameter as *extension.Collector[T]; the runtime supplies it.
// Items become visible only if the invocation succeeds.
type Collector[T any] struct {
	out *outputState
}

// Add writes one item.
func (c *Collector[T]) Add(ctx context.Context, item T) error {
	return c.out.add(ctx, item)
}

func (c *Collector[T]) setOutput(o *outputState) { c.out = o }
func (c *Collector[T]) elemType() any            { var z T; return &z }

// collectorParam is implemented by *Collector[T] for every T.
type collectorParam interface {
	setOutput(*outputState)
	elemType() any
}
