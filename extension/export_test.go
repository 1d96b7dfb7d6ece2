package extension

import (
	"context"
	"log/slog"
	"testing"

	"github.com/azbind/azbind/extension/driver"

	"github.com/azbind/azbind/connection"
	"go.opentelemetry.io/otel/trace/noop"
)

// Binding types for BenchmarkInvoke: a trigger that never runs and an output that discards.
type benchTrigger struct{}

func (benchTrigger) Run(ctx context.Context, _ driver.Executor) error { <-ctx.Done(); return nil }

// BindingData declares the trigger's binding data, as the queue trigger does (its C27 names, and
// "*" for the members of a JSON payload).
func (benchTrigger) BindingData() []string { return []string{"Id", "DequeueCount", "*"} }

type benchOutput struct{}
type benchSink struct{}

var theBenchSink benchSink

func (benchOutput) Open(context.Context, *FunctionContext) (driver.Sink, error) {
	return theBenchSink, nil
}
func (benchSink) Add(context.Context, any) error { return nil }
func (benchSink) Flush(context.Context) error    { return nil }

// benchTemplOutput evaluates its `queueName` template in Open, as the queue, blob and Service
// Bus outputs do.
type benchTemplOutput struct{ t *driver.Template }

var benchLastName string

func (o benchTemplOutput) Open(_ context.Context, fc *FunctionContext) (driver.Sink, error) {
	name, err := o.t.Eval(fc)
	if err != nil {
		return nil, err
	}
	benchLastName = name
	return theBenchSink, nil
}

func init() {
	driver.Register(driver.Extension{Name: "bench", Bindings: []driver.BindingType{
		{Type: "benchTemplOut", NewOutput: func(_ context.Context, bc *driver.BindContext) (driver.Output, error) {
			t, err := bc.Template("queueName")
			if err != nil {
				return nil, err
			}
			return benchTemplOutput{t}, nil
		}},
		{Type: "benchTrigger", NewTrigger: func(context.Context, *driver.BindContext) (driver.Trigger, error) { return benchTrigger{}, nil }},
		{Type: "benchOut", NewOutput: func(context.Context, *driver.BindContext) (driver.Output, error) { return benchOutput{}, nil }},
	}})
}

// BenchExecutor builds a function "bench" (string in, string out) and returns its executor and
// an event carrying a []byte payload, as a queue trigger would deliver it.
func BenchExecutor(tb testing.TB) (driver.Executor, *driver.Event) {
	return benchExecutor(tb, Binding("benchOut", "$return", DirOut, nil))
}

// BenchTemplatedExecutor is BenchExecutor with its output's `queueName: shipped-{ID}` evaluated
// in Open, as connectors' outputs do.
func BenchTemplatedExecutor(tb testing.TB) (driver.Executor, *driver.Event) {
	return benchExecutor(tb, Binding("benchTemplOut", "$return", DirOut, map[string]any{"queueName": "shipped-{ID}"}))
}

func benchExecutor(tb testing.TB, out *BindingSpec) (driver.Executor, *driver.Event) {
	h, err := NewHost(HostOptions{
		Settings:       connection.NewSettings(),
		Logger:         slog.New(slog.DiscardHandler),
		HostID:         "bench",
		TracerProvider: noop.NewTracerProvider(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	err = h.Func("bench", Func(func(_ context.Context, s string) (string, error) { return s, nil }),
		Binding("benchTrigger", "in", DirIn, nil), out)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.build(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return h.funcs[0], &driver.Event{Data: []byte("hello, world"), Metadata: driver.MapMetadata{"Id": "1"}}
}

// RoutesForTest lists the routes mounted on the host's router.
func (h *Host) RoutesForTest() []driver.Route {
	h.mu.Lock()
	h.initServices()
	rt := h.guard.next.(*router)
	h.mu.Unlock()
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	out := make([]driver.Route, 0, len(rt.routes))
	for _, m := range rt.routes {
		out = append(out, m.r)
	}
	return out
}

// QueuedForTest is the number of requests waiting for a maxConcurrentRequests slot.
func (h *Host) QueuedForTest() int64 { return h.guard.queued.Load() }
