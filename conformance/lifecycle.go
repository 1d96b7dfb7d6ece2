package conformance

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// GoroutineIgnorer is implemented by harnesses whose service SDK leaves goroutines behind that
// are not the connector's to stop (an SDK bug, say). The Lifecycle test ignores every goroutine
// with one of these functions on its stack (goleak.IgnoreAnyFunction); say why where you list one.
type GoroutineIgnorer interface {
	IgnoredGoroutines() []string
}

// lifecycleIgnored are the goroutines the Lifecycle test always ignores: the HTTP client's pooled
// connections (shared by every SDK client of the process, closed when idle) and the server side
// of keep-alive connections of the test's own HTTP servers (a push host, a receiver).
var lifecycleIgnored = []string{
	"net/http.(*persistConn).readLoop",
	"net/http.(*persistConn).writeLoop",
	"net/http.(*conn).serve",
	"net/http/httptest.(*Server).goServe.func1",
}

// lifecycleRounds is how many hosts the Lifecycle test starts and stops, one after the other:
// the second also shows a shared value that was closed but cannot be opened again.
const lifecycleRounds = 2

// lifecycleSettle bounds the wait for goroutines to end after the last host stopped.
const lifecycleSettle = 10 * time.Second

// Lifecycle: a host with the connector's bindings — its trigger, and its output when it has one
// (an output-only connector's output is driven by the in-memory trigger) — started, given one
// item, and stopped, leaves no goroutine behind (go.uber.org/goleak) and holds no shared value
// (Services.SharedCount() == 0): the runtime closed everything the connector opened. The
// harness's own clients are warmed up (Send, Pending, Received) before goroutines are counted, so
// that only what the hosts started counts. The package's tests must not run in parallel with it:
// goleak sees the whole process.
func testLifecycle(t *testing.T, e *env) {
	src := e.newSource()
	var dst Destination
	if oh, ok := e.h.(OutputHarness); ok { // (memSourceHarness too: an output-only connector)
		dst = oh.NewDestination(e.ctx, t)
	}
	// The harness's own clients are warmed up before goroutines are counted: the first item is
	// sent now (the first host handles it), and Pending and Received are called once.
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Pending(e.ctx); err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if dst != nil {
		if _, err := dst.Received(e.ctx); err != nil {
			t.Fatalf("Received: %v", err)
		}
	}
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	ignored := lifecycleIgnored
	for _, h := range []any{e.h, unwrap(e.h)} {
		if gi, ok := h.(GoroutineIgnorer); ok {
			ignored = append(ignored, gi.IgnoredGoroutines()...)
			break
		}
	}
	for _, f := range ignored {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}

	var handled atomic.Int32
	for round := range lifecycleRounds {
		bindings := []*driver.BindingSpec{src.Trigger("item")}
		var handler extension.Handler
		if dst != nil {
			bindings = append(bindings, dst.Output("$return"))
			handler = extension.Func(func(ctx context.Context, b []byte) (any, error) {
				handled.Add(1)
				v, _ := item(dst, round, numberedPayload(round))
				return v, nil
			})
		} else {
			handler = extension.Action(func(ctx context.Context, b []byte) error {
				handled.Add(1)
				return nil
			})
		}
		hh := e.start("lifecycle", handler, e.hostOptions(), bindings...)
		if round > 0 {
			if err := src.Send(e.ctx, payload(t, round)); err != nil {
				t.Fatal(err)
			}
		}
		e.eventually(fmt.Sprintf("round %d: the item handled", round), func() (bool, error) {
			return handled.Load() > int32(round), nil
		})
		if dst != nil {
			e.eventually(fmt.Sprintf("round %d: the output written", round), func() (bool, error) {
				got, err := dst.Received(e.ctx)
				return len(got) > round, err
			})
		}
		if err := e.shutdown(hh); err != nil {
			t.Fatalf("round %d: Run: %v", round, err)
		}
		if n := hh.h.Services().SharedCount(); n != 0 {
			t.Errorf("round %d: the stopped host holds %d shared value(s): the runtime did not close them", round, n)
		}
	}
	// Closed links and connections end their goroutines shortly after Close: poll until none is
	// left, for at most lifecycleSettle.
	err := goleak.Find(opts...)
	for deadline := time.Now().Add(lifecycleSettle); err != nil && time.Now().Before(deadline); err = goleak.Find(opts...) {
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("goroutines left behind by %d stopped hosts (a harness's own goroutines: GoroutineIgnorer):\n%v", lifecycleRounds, err)
	}
}

// unwrap returns the harness a suite harness wraps (memSourceHarness), or h.
func unwrap(h TriggerHarness) Harness {
	if m, ok := h.(memSourceHarness); ok {
		return m.OutputHarness
	}
	return h
}
