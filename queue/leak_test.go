package queue

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azbind/azbind/extension"
)

// leakOptions ignore the goroutines that existed before the test and the HTTP client's pooled
// connections (shared by every SDK client of the process, closed when idle).
func leakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
}

// A host with a queueTrigger and a queue output, started and stopped, leaves no goroutine of the
// connector and no shared value behind (issue 9: lifecycle owned by the runtime).
func TestHostLeavesNothingBehind(t *testing.T) {
	in, out := env.NewQueue(t), env.NewQueue(t)
	opts := leakOptions()
	for range 3 {
		h, err := extension.NewHost(extension.HostOptions{
			Connections: testResolver{},
			Logger:      slog.New(slog.DiscardHandler),
			HostConfig:  &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"queues": {"maxPollingInterval": "00:00:00.2"}}},
			HostID:      "queueleak",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Func("Forward", extension.Func(func(ctx context.Context, s string) (string, error) { return s + "!", nil }),
			Trigger("msg", in), Output("$return", out)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		env.Send(t, in, []byte("hi"))
		got := env.Receive(t, out, 1, 30*time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("forwarded %d messages, want 1", len(got))
		}
		if n := h.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
	}
	if err := goleak.Find(opts...); err != nil {
		t.Fatal(err)
	}
}
