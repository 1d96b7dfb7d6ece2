package extension

import (
	"context"
	"log/slog"
	"testing"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchDynamicExecutor is BenchExecutor with a Dynamic handler that returns its payload to
// "$return".
func BenchDynamicExecutor(tb testing.TB) (driver.Executor, *driver.Event) {
	h, err := NewHost(HostOptions{Settings: connection.NewSettings(), Logger: slog.New(slog.DiscardHandler), HostID: "bench", TracerProvider: noop.NewTracerProvider()})
	if err != nil {
		tb.Fatal(err)
	}
	err = h.Func("bench", Dynamic(func(_ context.Context, inv *DynamicInvocation) (Outputs, error) {
		b, err := inv.Bytes()
		return Outputs{"$return": b}, err
	}), Binding("benchTrigger", "in", DirIn, nil), Binding("benchOut", "$return", DirOut, nil))
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.build(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return h.funcs[0], &driver.Event{Data: []byte("hello, world"), Metadata: driver.MapMetadata{"Id": "1"}}
}
