package eventgrid_test

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"
	"go.uber.org/goleak"

	"github.com/azbind/azbind/extension"
)

// A host with an eventGridTrigger and an eventGrid output, started, delivered to and stopped,
// leaves no goroutine of the connector and no shared value behind.
func TestHostLeavesNothingBehind(t *testing.T) {
	rcv := newReceiver(t)
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),                  // the receiver's keep-alive connections
		goleak.IgnoreAnyFunction("net/http/httptest.(*Server).Start.func1"), // the receiver itself
		goleak.IgnoreAnyFunction("net/http/httptest.(*Server).goServe.func1"),
	}
	for range 3 {
		th := publishHost(t, rcv, keySettings(rcv), keyProps, func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error {
			return out.Add(ctx, `{"id":"o","subject":"s","eventType":"T","eventTime":"2026-03-04T05:06:07Z","dataVersion":"1","data":{}}`)
		})
		if r := th.post("Pub", "Notification", arr(egEvent("x", "s", "{}"))); r.code != 202 {
			t.Fatalf("webhook: %d %q", r.code, r.body)
		}
		if err := th.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		th.srv.Close()
		if n := th.h.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
	}
	if len(rcv.requests()) != 3 {
		t.Fatalf("%d publishes, want 3", len(rcv.requests()))
	}
	if err := goleak.Find(opts...); err != nil {
		t.Fatal(err)
	}
}
