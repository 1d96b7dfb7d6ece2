package cosmos

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azbind/azbind/extension"
)

// A host with a cosmosDBTrigger and a cosmosDB output, started and stopped, leaves no goroutine of
// the connector (lease workers, renewals) and no shared value behind.
func TestHostLeavesNothingBehind(t *testing.T) {
	e := newEnv(t)
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
	copies, _ := e.client.NewContainer(e.db, "copies")
	for i := range 3 {
		h := newHost(t, hostOpts{id: "cosmosleak"})
		if err := h.Func("Copy", extension.Func(func(ctx context.Context, docs []testDoc) ([]testDoc, error) {
			for i := range docs {
				docs[i].ID = "copy-" + docs[i].ID
			}
			return docs, nil
		}), Trigger("docs", e.db, "items", fast(map[string]any{"startFromBeginning": true})),
			Output("$return", e.db, "copies", map[string]any{"createIfNotExists": true, "partitionKey": "/pk"})); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		e.write(docs(i, 1)...)
		eventually(t, "the copy", func() bool { return len((&env{t: t, leases: copies}).allDocs()) == i+1 })
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Fatal("host did not stop")
		}
		if n := h.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
	}
	if err := goleak.Find(opts...); err != nil {
		t.Fatal(err)
	}
}
