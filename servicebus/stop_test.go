package servicebus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// A graceful stop costs no delivery attempt for a message no handler started (issue 23): 200
// messages queued, the host stopped while handlers run; right after the stop no message is left
// locked (nothing waits for its 60 s lock to expire), and on restart every message that no
// handler started comes back with DeliveryCount 1. The peer counts deliveries as Service Bus
// does: a lock that expires or an abandon counts, a release does not (amqp-wire-facts §7b).
func TestGracefulStopCostsNoDeliveryAttempt(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	var bodies []string
	for i := range 200 {
		bodies = append(bodies, fmt.Sprint("m", i))
	}
	send(t, q, bodies...)
	var mu sync.Mutex
	started := map[string]bool{}
	enough := make(chan struct{})
	h := startHost(t, hostCfg{}, "Stop", extension.Action(func(ctx context.Context, s string) error {
		mu.Lock()
		started[s] = true
		if len(started) == 40 {
			close(enough)
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		return nil
	}), servicebus.Trigger("s", q))
	select {
	case <-enough:
	case <-time.After(waitLong):
		t.Fatal("handlers did not start")
	}
	if err := h.Stop(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	handled := len(started)
	mu.Unlock()
	// Released messages are back at once; a message locked until its lock expires is not.
	eventually(t, func() string {
		if c := counts(t, q); c.Locked != 0 {
			return fmt.Sprintf("after the stop %d messages are still locked (counts %+v)", c.Locked, c)
		}
		return ""
	})
	rest := receiveAll(t, q, 200-handled)
	raised := 0
	for _, m := range rest {
		if !started[string(m.Body)] && m.DeliveryCount != 1 {
			raised++
		}
	}
	if raised > 0 {
		t.Errorf("%d of %d messages no handler started came back with a raised delivery count", raised, len(rest))
	}
	wantCounts(t, q, amqppeer.Counts{})
}

// A batch still waiting for minMessageBatchSize when the host stops goes to the handler in the
// drain, instead of being abandoned with its delivery count raised before any handler saw it.
func TestGracefulStopHandsWaitingBatchToHandler(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	got := make(chan []string, 1)
	h := startHost(t, hostCfg{ext: map[string]any{"maxMessageBatchSize": 10, "minMessageBatchSize": 10, "maxBatchWaitTime": "00:02:00"}}, "Batch",
		extension.Action(func(ctx context.Context, msgs []string) error {
			got <- msgs
			return nil
		}), servicebus.Trigger("m", q, map[string]any{"cardinality": "many"}))
	send(t, q, "a", "b", "c")
	eventually(t, func() string {
		if c := counts(t, q); c.Locked != 3 {
			return fmt.Sprintf("the trigger has not received the 3 messages yet: %+v", c)
		}
		return ""
	})
	if err := h.Stop(t); err != nil {
		t.Fatal(err)
	}
	// The peer locks a message when it sends it; the SDK may not have handed all three to the
	// trigger yet when the stop comes. What the trigger held goes to the handler (nothing it
	// received is abandoned waiting for minMessageBatchSize); the rest is released by the SDK,
	// back to Active without a delivery attempt, and nothing stays locked.
	var handled []string
	select {
	case handled = <-got:
		if len(handled) == 0 {
			t.Fatal("the handler got an empty batch")
		}
	default:
		t.Fatal("the waiting batch was not handed to the handler at the stop")
	}
	wantCounts(t, q, amqppeer.Counts{Active: 3 - len(handled), Total: 3 - len(handled)})
}
