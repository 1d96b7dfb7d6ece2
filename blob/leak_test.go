package blob

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azbind/azbind/extension"
)

// A host with a blobTrigger (scanner, internal-queue dispatcher, fast path) and a blob output,
// started and stopped, leaves no goroutine of the connector and no shared value behind.
func TestHostLeavesNothingBehind(t *testing.T) {
	c := unique("leak")
	createContainer(t, c)
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
	hostID := unique("h")
	for i := range 2 {
		h, err := extension.NewHost(extension.HostOptions{
			Connections: testResolver(),
			HostID:      hostID,
			Logger:      slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 4)
		if err := h.Func("Upper", extension.Func(func(ctx context.Context, s string) (string, error) {
			return strings.ToUpper(s), nil
		}), Trigger("input", c+"/in/{name}"), Output("$return", c+"/out/{name}")); err != nil {
			t.Fatal(err)
		}
		if err := h.Func("Done", extension.Action(func(ctx context.Context, r io.Reader) error {
			b, err := io.ReadAll(r)
			got <- string(b)
			return err
		}), Trigger("input", c+"/out/{name}")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		name := []string{"a.txt", "b.txt"}[i]
		upload(t, c, "in/"+name, []byte("x"+name))
		select {
		case s := <-got:
			if s != strings.ToUpper("x"+name) {
				t.Errorf("got %q", s)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the chained function never ran")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if n := h.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
	}
	if err := goleak.Find(opts...); err != nil {
		t.Fatal(err)
	}
}
