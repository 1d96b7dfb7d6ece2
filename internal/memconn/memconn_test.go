package memconn

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

type countExec struct{ n atomic.Int32 }

func (c *countExec) Execute(context.Context, *driver.Event) driver.Result {
	c.n.Add(1)
	return driver.Result{Status: driver.Succeeded}
}

// A trigger whose context is cancelled fetches nothing more ("ctx cancelled = stop fetching"),
// even when a concurrency slot and a message are both ready.
func TestRunStopsFetchingWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 50 {
		q := Default.Queue(fmt.Sprintf("memconn-stop-%d", i))
		q.Send([]byte("x"))
		tr := &queueTrigger{q: q, opts: Options{Concurrency: 4, BatchSize: 1}}
		var exec countExec
		if err := tr.Run(ctx, &exec); err != nil {
			t.Fatal(err)
		}
		if n := exec.n.Load(); n != 0 {
			t.Fatalf("run %d: %d message(s) fetched and executed after cancellation", i, n)
		}
		if q.Pending() != 1 {
			t.Fatalf("run %d: pending = %d, want 1", i, q.Pending())
		}
	}
}
