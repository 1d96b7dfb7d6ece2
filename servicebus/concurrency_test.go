package servicebus_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// maxConcurrentCalls bounds the invocations in flight (prefetched messages wait).
func TestMaxConcurrentCalls(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	var bodies []string
	for i := range 12 {
		bodies = append(bodies, fmt.Sprint("m", i))
	}
	send(t, q, bodies...)
	var active, peak, total atomic.Int64
	startHost(t, hostCfg{ext: map[string]any{"maxConcurrentCalls": 3, "prefetchCount": 2}}, "Bounded", extension.Action(func(ctx context.Context, s string) error {
		n := active.Add(1)
		defer active.Add(-1)
		for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
		}
		total.Add(1)
		time.Sleep(50 * time.Millisecond)
		return nil
	}), servicebus.Trigger("s", q))
	wantCounts(t, q, amqppeer.Counts{})
	if p := peak.Load(); p != 3 {
		t.Errorf("peak concurrency %d, want 3", p)
	}
	if n := total.Load(); n != 12 {
		t.Errorf("%d invocations, want 12", n)
	}
}

// autoCompleteMessages false on the binding: a message the handler does not settle stays locked
// and comes back after its lock; one it completes is gone.
func TestAutoCompleteOff(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{LockDuration: time.Second})
	var mu sync.Mutex
	seen := map[string]int{}
	startHost(t, hostCfg{ext: map[string]any{"maxAutoLockRenewalDuration": "00:00:00"}}, "Manual", extension.Reflect(func(ctx context.Context, s string, a *servicebus.MessageActions) error {
		mu.Lock()
		seen[s]++
		n := seen[s]
		mu.Unlock()
		if s == "settle" || n > 1 {
			return a.Complete(ctx, nil)
		}
		return nil // not settled: not completed either
	}), servicebus.Trigger("s", q, map[string]any{"autoCompleteMessages": false}))
	send(t, q, "settle", "leave")
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	if seen["settle"] != 1 || seen["leave"] != 2 {
		t.Errorf("deliveries %v, want settle once and leave twice (its lock expired)", seen)
	}
}

// The session lock is renewed while a handler slower than the lock runs: the session stays with
// the host, its messages are handled once each, in order.
func TestSessionLockRenewal(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{RequiresSession: true, LockDuration: 2 * time.Second})
	var mu sync.Mutex
	var got []string
	h := startHost(t, hostCfg{ext: map[string]any{"sessionIdleTimeout": "00:00:01"}}, "SlowSession", extension.Action(func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		if string(m.Body) == "s1" {
			time.Sleep(4 * time.Second)
		}
		mu.Lock()
		got = append(got, string(m.Body))
		mu.Unlock()
		return nil
	}), servicebus.Trigger("m", q, map[string]any{"isSessionsEnabled": true}))
	sendSession(t, q, "S", "s1", "s2")
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "s1,s2" {
		t.Errorf("handled %v, want [s1 s2] once each", got)
	}
	if l := h.logs.String(); strings.Contains(l, "lock lost") || strings.Contains(l, "cannot complete") {
		t.Errorf("logs:\n%s", l)
	}
}

// Batches from sessions: each batch holds one session's messages, in order.
func TestSessionBatches(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{RequiresSession: true})
	var msgs []*azservicebus.Message
	for i := range 5 {
		for _, s := range []string{"A", "B"} {
			msgs = append(msgs, &azservicebus.Message{Body: []byte(fmt.Sprint(s, i)), SessionID: &[]string{s}[0]})
		}
	}
	sendMsgs(t, q, msgs...)
	var mu sync.Mutex
	got := map[string][]string{}
	// minMessageBatchSize = maxMessageBatchSize keeps no spare link credit while a batch runs:
	// the peer re-offers a message the SDK released (one that arrived between receives) 100 ms
	// later, after the session's next ones, which Service Bus would not (see the README).
	startHost(t, hostCfg{ext: map[string]any{"sessionIdleTimeout": "00:00:00.5", "maxMessageBatchSize": 3, "minMessageBatchSize": 3, "maxBatchWaitTime": "00:00:00.3"}}, "SessionBatch",
		extension.Reflect(func(ctx context.Context, batch []*azservicebus.ReceivedMessage, s *servicebus.SessionActions) error {
			if len(batch) > 3 {
				return fmt.Errorf("batch of %d", len(batch))
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range batch {
				if *m.SessionID != s.SessionID() {
					return fmt.Errorf("message of session %s in a batch of session %s", *m.SessionID, s.SessionID())
				}
				got[s.SessionID()] = append(got[s.SessionID()], string(m.Body))
			}
			return nil
		}), servicebus.Trigger("m", q, map[string]any{"isSessionsEnabled": true, "cardinality": "many"}))
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got["A"], ",") != "A0,A1,A2,A3,A4" || strings.Join(got["B"], ",") != "B0,B1,B2,B3,B4" {
		t.Errorf("got %v", got)
	}
}
