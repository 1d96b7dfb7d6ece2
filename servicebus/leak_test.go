package servicebus_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// A host with a serviceBusTrigger and a serviceBus output, started and stopped, leaves no
// goroutine and no shared value (the AMQP client) behind. Not parallel: goleak sees every goroutine.
func TestHostLeavesNothingBehind(t *testing.T) {
	in, out := newQueue(t, amqppeer.Queue{}), newQueue(t, amqppeer.Queue{})
	// The tests' own client is connected before the snapshot.
	if r, err := sb(t).NewReceiverForQueue(out, nil); err != nil {
		t.Fatal(err)
	} else {
		if _, err := r.PeekMessages(testCtx(t), 1, nil); err != nil {
			t.Fatal(err)
		}
		r.Close(testCtx(t))
	}
	opts := []goleak.Option{goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop")}
	for range 2 {
		h, err := extension.NewHost(extension.HostOptions{
			Settings: connection.NewSettings(connection.FromMap("t", map[string]string{"AzureWebJobsServiceBus": peer.ConnectionString})),
			Logger:   slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Func("Forward", extension.Func(func(ctx context.Context, s string) (string, error) { return s + "!", nil }),
			servicebus.Trigger("msg", in), servicebus.Output("$return", out)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		send(t, in, "hi")
		got := receiveAll(t, out, 1)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if string(got[0].Body) != "hi!" {
			t.Fatalf("forwarded %q", got[0].Body)
		}
		if n := h.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
	}
	var err error
	for range 50 { // closed links and connections end their goroutines shortly after Close
		if err = goleak.Find(opts...); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
}
