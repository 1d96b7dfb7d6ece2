package memconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// A stream trigger keeps checkpoints, so it refuses to start on memory storage the host fell
// back to (and names the setting to define).
func TestStreamNeedsDurableStorage(t *testing.T) {
	bc := &driver.BindContext{Function: "f", Spec: driver.Binding("memStreamTrigger", "item", driver.DirIn, driver.Props{"stream": "s"}),
		Host: &driver.Services{StorageVolatile: true}}
	_, err := newStreamTrigger(context.Background(), bc)
	if err == nil || !strings.Contains(err.Error(), "AzureWebJobsStorage") {
		t.Fatalf("newStreamTrigger on volatile storage: %v, want an error naming AzureWebJobsStorage", err)
	}
}

// A handler settles once: a second settlement of the same messages reports ErrSettled, and the
// trigger's settlement after the invocation changes nothing.
func TestActionsSettleOnce(t *testing.T) {
	q := Default.Queue("memconn-actions")
	q.Send([]byte("x"))
	a := &Actions{q: q, msgs: q.receive(1)}
	if err := a.DeadLetter(context.Background(), "why"); err != nil {
		t.Fatal(err)
	}
	if err := a.Complete(context.Background()); !errors.Is(err, ErrSettled) {
		t.Fatalf("second settlement: %v, want ErrSettled", err)
	}
	a.finish(driver.Succeeded)
	if d := q.DeadLetters(); len(d) != 1 || d[0].Reason != "why" || len(q.Acked()) != 0 || q.Pending() != 0 {
		t.Fatalf("dead %v, completed %d, pending %d", d, len(q.Acked()), q.Pending())
	}
}
