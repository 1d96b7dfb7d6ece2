package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// CheckpointResume: a host restarted on the same host storage resumes from the checkpoints. What
// the first host completed is never delivered again; the item it was still running when its drain
// deadline cancelled it is delivered again, once; items sent while no host ran are all delivered,
// once. Run for single items and, with Batch, for batches.
func testCheckpointResume(t *testing.T, e *env) {
	modes := []string{"one"}
	if e.caps.Batch {
		modes = append(modes, "many")
	}
	for _, mode := range modes {
		t.Run("cardinality="+mode, func(t *testing.T) {
			sub := *e
			sub.t, sub.pushes = t, nil
			checkpointResume(t, &sub, mode == "many")
		})
	}
}

func checkpointResume(t *testing.T, e *env, many bool) {
	src := e.newSource()
	item := func(phase string, i int) []byte {
		return fmt.Appendf(nil, `{"test":%q,"phase":%q,"n":%d}`, t.Name(), phase, i)
	}
	blocker := item("blocker", 0)
	const before, while = 8, 6 // items done by the first host; items sent while no host runs

	// handler adapts a per-item function to the cardinality under test; a batch fails with the
	// first failing item.
	handler := func(each func(ctx context.Context, b []byte) error) extension.Handler {
		if many {
			return extension.Action(func(ctx context.Context, items [][]byte) error {
				var errs []error
				for _, b := range e.sentAll(items) {
					errs = append(errs, each(ctx, b))
				}
				return errors.Join(errs...)
			})
		}
		return extension.Action(func(ctx context.Context, b []byte) error { return each(ctx, e.sent(b)) })
	}
	spec := func() *driver.BindingSpec {
		if many {
			return manyTrigger(src, "item")
		}
		return src.Trigger("item")
	}

	// First host: completes `before` items, then is stopped while it runs the blocker.
	var first recorder
	started := make(chan struct{}, 1)
	var sawCancel atomic.Bool
	hA := e.start("resume", handler(func(ctx context.Context, b []byte) error {
		first.add(b, nil)
		if string(b) != string(blocker) {
			return nil
		}
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		sawCancel.Store(errors.Is(ctx.Err(), context.Canceled))
		return ctx.Err()
	}), e.hostOptions(func(o *extension.HostOptions) { o.ShutdownTimeout = 200 * time.Millisecond }), spec())
	for i := range before {
		if err := src.Send(e.ctx, item("before", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("the first items handled and checkpointed", func() (bool, error) {
		p, err := src.Pending(e.ctx)
		return p == 0 && first.len() >= before, err
	})
	if err := src.Send(e.ctx, blocker); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(e.wait):
		t.Fatal("the first host did not start the last item")
	}
	if err := e.shutdown(hA); err != nil {
		t.Errorf("Run: %v", err)
	}
	if !sawCancel.Load() {
		t.Error("the item running at the drain deadline was not cancelled")
	}
	if n, err := src.Pending(e.ctx); err != nil || n != 1 {
		t.Fatalf("pending after the first host stopped = %d (%v), want 1 (the cancelled item is not checkpointed)", n, err)
	}

	// While no host runs.
	for i := range while {
		if err := src.Send(e.ctx, item("while", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := src.Pending(e.ctx); err != nil || n != 1+while {
		t.Fatalf("pending with no host = %d (%v), want %d", n, err, 1+while)
	}

	// Second host, same storage.
	var second recorder
	e.start("resume", handler(func(ctx context.Context, b []byte) error {
		second.add(b, nil)
		return nil
	}), e.hostOptions(), spec())
	e.eventually("the restarted host catches up", func() (bool, error) {
		p, err := src.Pending(e.ctx)
		return p == 0 && second.len() >= 1+while, err
	})
	var wrong []string
	for i := range before {
		if c := second.count(item("before", i)); c != 0 {
			wrong = append(wrong, fmt.Sprintf("checkpointed item %d delivered again ×%d", i, c))
		}
	}
	if c := second.count(blocker); c != 1 {
		wrong = append(wrong, fmt.Sprintf("the cancelled item delivered ×%d after the restart, want 1", c))
	}
	for i := range while {
		if c := second.count(item("while", i)); c != 1 {
			wrong = append(wrong, fmt.Sprintf("item %d sent while no host ran delivered ×%d, want 1", i, c))
		}
	}
	if n := second.len(); n != 1+while {
		wrong = append(wrong, fmt.Sprintf("the restarted host handled %d items, want %d", n, 1+while))
	}
	if len(wrong) > 0 {
		t.Errorf("resume from checkpoint: %s", strings.Join(wrong, "; "))
	}
}
