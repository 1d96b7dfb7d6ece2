package blob

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/testhost"
)

// End to end through the extension runtime: a blob trigger with a blob input (missing → nil)
// and a blob output whose blob triggers a second function through the fast path.
func TestHostEndToEnd(t *testing.T) {
	c := unique("e2e")
	createContainer(t, c)
	h, err := extension.NewHost(extension.HostOptions{
		Connections: testResolver(),
		HostID:      unique("h"),
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	type copyIn struct {
		Data string `azbind:"input"`
		Side *order `azbind:"side"`
	}
	sides := make(chan *order, 4)
	if err := h.Func("Copy", extension.Func(func(ctx context.Context, in copyIn) (string, error) {
		sides <- in.Side
		return strings.ToUpper(in.Data), nil
	}), Trigger("input", c+"/in/{name}"), Input("side", c+"/side/{name}.json"), Output("$return", c+"/out/{name}")); err != nil {
		t.Fatal(err)
	}
	type chained struct {
		at   time.Time
		data string
		name string
	}
	got := make(chan chained, 4)
	if err := h.Func("Chain", extension.Action(func(ctx context.Context, r io.Reader) error {
		b, err := io.ReadAll(r)
		name, _ := extension.FromContext(ctx).Metadata.Lookup("name")
		got <- chained{time.Now(), string(b), name.(string)}
		return err
	}), Trigger("input", c+"/out/{name}")); err != nil {
		t.Fatal(err)
	}
	run := testhost.Run(t, h, testhost.RunOptions{}) // (stopped, and Run's error reported, at cleanup)

	upload(t, c, "side/a.txt.json", []byte(`{"id":"s1","total":2}`))
	upload(t, c, "in/a.txt", []byte("hello"))
	upload(t, c, "in/b.txt", []byte("world")) // no side blob: nil
	want := map[string]string{"a.txt": "HELLO", "b.txt": "WORLD"}
	var sideVals []*order
	for len(want) > 0 {
		select {
		case ch := <-got:
			if want[ch.name] != ch.data {
				t.Fatalf("Chain got %s=%q", ch.name, ch.data)
			}
			delete(want, ch.name)
		case s := <-sides:
			sideVals = append(sideVals, s)
		case <-run.Exited():
			t.Fatalf("host stopped: %v", run.Err())
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out; still waiting for %v", want)
		}
	}
	for len(sideVals) < 2 {
		sideVals = append(sideVals, <-sides)
	}
	var nonNil int
	for _, s := range sideVals {
		if s != nil {
			nonNil++
			if s.ID != "s1" {
				t.Errorf("side input = %+v", s)
			}
		}
	}
	if nonNil != 1 {
		t.Fatalf("side inputs = %v, want one value and one nil (missing blob)", sideVals)
	}
}
