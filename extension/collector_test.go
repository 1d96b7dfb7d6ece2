package extension_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/azbind/azbind/extension"
)

// A Collector may be used from several goroutines of one invocation (a common Go fan-out): every
// item arrives, without a data race in the connector's sink.
func TestCollectorConcurrentAdds(t *testing.T) {
	name, q := newQueue(t)
	outName, outQ := newQueue(t)
	run(t, opts(nil), "fanout", extension.Reflect(func(ctx context.Context, s string, c *extension.Collector[string]) error {
		var wg sync.WaitGroup
		errs := make(chan error, 8*25)
		for g := range 8 {
			wg.Go(func() {
				for i := range 25 {
					if err := c.Add(ctx, fmt.Sprintf("%d-%d", g, i)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}), trig(name), out("out", outName))
	q.Send([]byte("x"))
	waitFor(t, "acknowledged", func() bool { return len(q.Acked()) == 1 })
	if n := len(outQ.Peek()); n != 200 {
		t.Errorf("output items = %d, want 200", n)
	}
}

// Adding to a Collector after the invocation returned is an error, not an item silently dropped
// after the flush.
func TestCollectorAddAfterReturn(t *testing.T) {
	name, q := newQueue(t)
	outName, _ := newQueue(t)
	var late *extension.Collector[string]
	run(t, opts(nil), "late", extension.Reflect(func(ctx context.Context, s string, c *extension.Collector[string]) error {
		late = c
		return nil
	}), trig(name), out("out", outName))
	q.Send([]byte("x"))
	waitFor(t, "acknowledged", func() bool { return len(q.Acked()) == 1 })
	if err := late.Add(context.Background(), "too late"); err == nil {
		t.Error("Add after the invocation returned succeeded; the item would be lost")
	}
}
