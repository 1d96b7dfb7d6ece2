package servicebus_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// At shutdown an invocation that finishes within the drain is completed; one cancelled at the
// drain deadline is abandoned at once, so it comes back long before its lock (60 s) expires.
func TestShutdownDrainAndCancel(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	started := make(chan string, 2)
	h := startHost(t, hostCfg{shutdown: time.Second}, "Drain", extension.Action(func(ctx context.Context, s string) error {
		started <- s
		if s == "quick" {
			time.Sleep(300 * time.Millisecond)
			return nil
		}
		<-ctx.Done() // cancelled at the drain deadline
		return ctx.Err()
	}), servicebus.Trigger("s", q))
	send(t, q, "quick", "stuck")
	for range 2 {
		select {
		case <-started:
		case <-time.After(waitLong):
			t.Fatal("invocations did not start")
		}
	}
	stopped := time.Now()
	if err := h.Stop(t); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("stop took %v", d)
	}
	t.Logf("counts after stop: %+v", counts(t, q))
	got := receiveAll(t, q, 1)
	if string(got[0].Body) != "stuck" || got[0].DeliveryCount != 2 {
		t.Errorf("after shutdown the queue held %q (delivery count %d), want only the cancelled \"stuck\" back with delivery count 2", got[0].Body, got[0].DeliveryCount)
	}
	if d := time.Since(stopped); d > 15*time.Second {
		t.Errorf("the cancelled message came back after %v: it was not abandoned at shutdown", d)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

// Two hosts on one queue share its messages; each is handled once.
func TestCompetingConsumers(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	var mu sync.Mutex
	seen := map[string]int{}
	var perHost [2]atomic.Int64
	for i := range 2 {
		startHost(t, hostCfg{ext: map[string]any{"maxConcurrentCalls": 4}}, "Compete", extension.Action(func(ctx context.Context, s string) error {
			perHost[i].Add(1)
			mu.Lock()
			seen[s]++
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			return nil
		}), servicebus.Trigger("s", q))
	}
	var bodies []string
	for i := range 60 {
		bodies = append(bodies, fmt.Sprint("m", i))
	}
	send(t, q, bodies...)
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bodies {
		if seen[b] != 1 {
			t.Errorf("%s handled %d times", b, seen[b])
		}
	}
	t.Logf("host 1 handled %d, host 2 handled %d", perHost[0].Load(), perHost[1].Load())
}

// The peer drops every connection mid-run: the trigger reconnects by itself and nothing is lost.
func TestReconnectAfterConnectionDrop(t *testing.T) {
	// A short lock: the peer may still deliver to links of the dropped connections (see the
	// package README); such messages come back once their lock expires, as they would from a
	// receiver that vanished.
	q := newQueue(t, amqppeer.Queue{LockDuration: 2 * time.Second})
	var mu sync.Mutex
	seen := map[string]int{}
	startHost(t, hostCfg{ext: map[string]any{"clientRetryOptions": map[string]any{"delay": "00:00:00.1", "maxDelay": "00:00:01"}}}, "Reconnect",
		extension.Action(func(ctx context.Context, s string) error {
			mu.Lock()
			seen[s]++
			mu.Unlock()
			return nil
		}), servicebus.Trigger("s", q))
	send(t, q, "a1", "a2", "a3")
	wantCounts(t, q, amqppeer.Counts{})
	if err := peer.DropConnections(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// The tests' own client reconnects too.
	var msgs []*azservicebus.Message
	for i := range 5 {
		msgs = append(msgs, &azservicebus.Message{Body: fmt.Appendf(nil, "b%d", i)})
	}
	sendMsgs(t, q, msgs...)
	wantCounts(t, q, amqppeer.Counts{})
	// Links detached by the service (amqp:link:detach-forced) are recovered too.
	if err := peer.DetachLinks(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	send(t, q, "c1", "c2")
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	for _, b := range []string{"a1", "a2", "a3", "b0", "b1", "b2", "b3", "b4", "c1", "c2"} {
		if seen[b] < 1 {
			t.Errorf("%s was not handled (seen %v)", b, seen)
		}
	}
}
