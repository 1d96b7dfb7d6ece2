package extension_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Each attempt is a span named "invoke <function>" with the error recorded, and the invocation
// metrics count attempts by status.
func TestTelemetry(t *testing.T) {
	name, q := newQueue(t)
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	o := opts(nil)
	o.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	o.HostConfig = &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 5}}}
	var n int
	run(t, o, "traced", extension.Action(func(ctx context.Context, s string) error {
		n++
		if n == 1 {
			return errors.New("first attempt fails")
		}
		return nil
	}), trig(name))
	q.Send([]byte("x"))
	waitFor(t, "acknowledged", func() bool { return len(q.Acked()) == 1 })
	waitFor(t, "two spans", func() bool { return len(spans.Ended()) == 2 })
	ended := spans.Ended()
	if ended[0].Name() != "invoke traced" || ended[0].Status().Code != codes.Error || ended[1].Status().Code == codes.Error {
		t.Errorf("spans: %q %v, %q %v", ended[0].Name(), ended[0].Status(), ended[1].Name(), ended[1].Status())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "azbind.invocations" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				st, _ := dp.Attributes.Value("status")
				counts[st.AsString()] += dp.Value
			}
		}
	}
	if counts["failed"] != 1 || counts["succeeded"] != 1 {
		t.Errorf("invocation counts = %v, want 1 failed and 1 succeeded", counts)
	}
}

// With no TracerProvider option the host uses otel's global provider: while the program has set
// none, no span is started (it would record nothing and cost three allocations); a provider the
// program sets after the host started is used from the next invocation on.
func TestGlobalTracerProviderSetLater(t *testing.T) {
	name, q := newQueue(t)
	o := opts(nil)
	o.TracerProvider = nil
	calls := make(chan bool, 2)
	run(t, o, "globaltraced", extension.Action(func(ctx context.Context, s string) error {
		calls <- trace.SpanFromContext(ctx).SpanContext().IsValid()
		return nil
	}), trig(name))
	next := func() bool {
		select {
		case v := <-calls:
			return v
		case <-time.After(30 * time.Second):
			t.Fatal("no invocation within 30 s")
			return false
		}
	}
	q.Send([]byte("before"))
	if next() {
		t.Error("an invocation has a span before any provider was set")
	}
	spans := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	q.Send([]byte("after"))
	if !next() {
		t.Error("the invocation after otel.SetTracerProvider has no span")
	}
	waitFor(t, "a span", func() bool { return len(spans.Ended()) == 1 })
	if got := spans.Ended()[0].Name(); got != "invoke globaltraced" {
		t.Errorf("span %q", got)
	}
}
