package extension

import (
	"context"
	"time"
)

// RetryContext describes the current attempt of an invocation under a retry policy.
type RetryContext struct {
	RetryCount    int   // 0 on the first attempt
	MaxRetryCount int   // -1 = forever; 0 = no policy
	LastErr       error // the previous attempt's error (nil on the first attempt)
}

// FunctionContext describes the running invocation. Handlers and middleware get it with
// FromContext(ctx); input and output bindings receive it directly.
// InvocationID() and Logger() give the invocation's id and logger.
type FunctionContext struct {
	FunctionName string
	TriggerType  string
	// Metadata is the trigger's binding data (never nil).
	Metadata Metadata
	Retry    RetryContext
	// Started is when this attempt started.
	Started time.Time

	inv *invocation // runtime state: payload, binding data, outputs
}

type fcKey struct{}

// FromContext returns the invocation's FunctionContext, or nil outside an invocation.
func FromContext(ctx context.Context) *FunctionContext {
	fc, _ := ctx.Value(fcKey{}).(*FunctionContext)
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
