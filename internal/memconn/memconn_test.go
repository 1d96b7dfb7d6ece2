package memconn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
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
		tr := &queueTrigger{q: q, opts: &Options{Concurrency: 4, BatchSize: 1}}
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
		Host: volatileServices(t)}
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

// The push router is mounted once per Mux: a host that reopens its shared values (Verify, then
// Run) finds the router already mounted instead of panicking on a second Handle.
func TestPushRouterMountedOnce(t *testing.T) {
	mux := http.NewServeMux()
	if a, b := mountRouter(mux), mountRouter(mux); a != b {
		t.Fatal("a second mount made a second router")
	}
}

// volatileServices are full host services whose storage is memory the host fell back to.
func volatileServices(t *testing.T) *driver.Services {
	return testhost.Services(t, extension.HostOptions{})
}

// The extension's Check (driver.Extension.Check) answers through the client the bindings use.
func TestCheck(t *testing.T) {
	_, ext, ok := driver.Lookup("memTrigger")
	if !ok || ext.Check == nil {
		t.Fatal("memconn registers no Check")
	}
	if err := ext.Check(context.Background(), nil); err != nil {
		t.Fatalf("Check: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ext.Check(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled context: %v, want context.Canceled", err)
	}
}

// The host.json section is decoded once per host (driver.Section): every binding of the host gets
// the same *Options; a value out of range fails with an error naming the host.json field.
func TestOptionsOncePerHost(t *testing.T) {
	s := testhost.Services(t, extension.HostOptions{})
	bc := func(cfg map[string]any, typ string) *driver.BindContext {
		return &driver.BindContext{Function: "f", Host: s, Config: cfg, Extension: "memory",
			Spec: driver.Binding(typ, "b", driver.DirIn, driver.Props{"queue": "q"})}
	}
	a, err := newQueueTrigger(context.Background(), bc(map[string]any{"batchSize": 3.0}, "memTrigger"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := newQueueTrigger(context.Background(), bc(map[string]any{"batchSize": 3.0}, "memTrigger"))
	if err != nil {
		t.Fatal(err)
	}
	if a.(*queueTrigger).opts != b.(*queueTrigger).opts || a.(*queueTrigger).opts.batchSize() != 3 || a.(*queueTrigger).opts.concurrency() != 16 {
		t.Fatalf("options %+v and %+v: want one decoded value with batchSize 3, concurrency 16", a.(*queueTrigger).opts, b.(*queueTrigger).opts)
	}
	s2 := testhost.Services(t, extension.HostOptions{})
	_, err = newQueueTrigger(context.Background(), &driver.BindContext{Function: "f", Host: s2, Config: map[string]any{"concurrency": -1.0}, Extension: "memory",
		Spec: driver.Binding("memTrigger", "b", driver.DirIn, driver.Props{"queue": "q"})})
	var ce *driver.ConfigError
	if !errors.As(err, &ce) || ce.Field != "extensions.memory.concurrency" {
		t.Fatalf("concurrency -1: %v, want a ConfigError naming extensions.memory.concurrency", err)
	}
}
