package servicebus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// Every message reaches the handler once, as the type it asks for, with the §3.5 binding data,
// and is completed.
func TestTriggerDeliversAndCompletes(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	type order struct {
		ID    string `json:"id"`
		Items int    `json:"items"`
	}
	var mu sync.Mutex
	got := map[string]order{}
	meta := map[string]map[string]any{}
	startHost(t, hostCfg{}, "Orders", extension.Action(func(ctx context.Context, o order) error {
		fc := extension.FromContext(ctx)
		m := map[string]any{}
		for _, n := range []string{"DeliveryCount", "MessageId", "SequenceNumber", "EnqueuedTimeUtc", "LockToken", "ApplicationProperties", "UserProperties", "CorrelationId", "Subject", "Label", "ContentType", "id"} {
			v, _ := fc.BindingData(n)
			m[n] = v
		}
		mu.Lock()
		got[o.ID] = o
		meta[o.ID] = m
		mu.Unlock()
		return nil
	}), servicebus.Trigger("o", q))
	for i := range 5 {
		sendMsgs(t, q, &azservicebus.Message{Body: fmt.Appendf(nil, `{"id":"o%d","items":%d}`, i, i), MessageID: to.Ptr(fmt.Sprintf("mid-%d", i)),
			CorrelationID: to.Ptr("corr"), Subject: to.Ptr("subj"), ContentType: to.Ptr("application/json"),
			ApplicationProperties: map[string]any{"k": "v"}})
	}
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 {
		t.Fatalf("handled %d orders, want 5", len(got))
	}
	m := meta["o3"]
	if got["o3"].Items != 3 || m["DeliveryCount"] != 1 || m["MessageId"] != "mid-3" || m["CorrelationId"] != "corr" ||
		m["Subject"] != "subj" || m["Label"] != "subj" || m["ContentType"] != "application/json" || m["id"] != "o3" {
		t.Errorf("order %+v, binding data %v", got["o3"], m)
	}
	if p, _ := m["ApplicationProperties"].(map[string]any); p["k"] != "v" {
		t.Errorf("ApplicationProperties = %v", m["ApplicationProperties"])
	}
	if _, ok := m["SequenceNumber"].(int64); !ok {
		t.Errorf("SequenceNumber = %T %v, want int64", m["SequenceNumber"], m["SequenceNumber"])
	}
	if _, ok := m["EnqueuedTimeUtc"].(time.Time); !ok {
		t.Errorf("EnqueuedTimeUtc = %T", m["EnqueuedTimeUtc"])
	}
	if s, _ := m["LockToken"].(string); len(s) != 36 {
		t.Errorf("LockToken = %v", m["LockToken"])
	}
}

// A handler may take the SDK's *ReceivedMessage, string or []byte; a topic subscription works
// like a queue.
func TestTriggerSubscriptionAndParamTypes(t *testing.T) {
	t.Parallel()
	topic, sub := entityName(t), "s1"
	if err := peer.CreateEntities(testCtx(t), amqppeer.Config{Topics: []amqppeer.Topic{{Name: topic, Subscriptions: []amqppeer.Subscription{{Name: sub}}}}}); err != nil {
		t.Fatal(err)
	}
	got := make(chan *azservicebus.ReceivedMessage, 1)
	startHost(t, hostCfg{}, "Sub", extension.Action(func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		got <- m
		return nil
	}), servicebus.SubscriptionTrigger("m", topic, sub))
	sendMsgs(t, topic, &azservicebus.Message{Body: []byte("hello"), ApplicationProperties: map[string]any{"n": int64(7)}})
	select {
	case m := <-got:
		if string(m.Body) != "hello" || m.ApplicationProperties["n"] != int64(7) || m.DeliveryCount != 1 {
			t.Errorf("got %q %v %d", m.Body, m.ApplicationProperties, m.DeliveryCount)
		}
	case <-time.After(waitLong):
		t.Fatal("not delivered")
	}
	wantCounts(t, topic+"/Subscriptions/"+sub, amqppeer.Counts{})

	q := newQueue(t, amqppeer.Queue{})
	strs := make(chan string, 1)
	startHost(t, hostCfg{}, "Str", extension.Action(func(ctx context.Context, s string) error { strs <- s; return nil }), servicebus.Trigger("s", q))
	send(t, q, "text é")
	select {
	case s := <-strs:
		if s != "text é" {
			t.Errorf("got %q", s)
		}
	case <-time.After(waitLong):
		t.Fatal("not delivered")
	}
}

// A failed invocation abandons the message: it comes back at once with DeliveryCount+1, and the
// service dead-letters it at maxDeliveryCount (MaxDeliveryCountExceeded); the trigger itself
// never dead-letters.
func TestFailureAbandonsUntilDeadLetter(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{MaxDeliveryCount: 3})
	var calls atomic.Int64
	var counts_ []int
	var mu sync.Mutex
	startHost(t, hostCfg{}, "Fails", extension.Action(func(ctx context.Context, s string) error {
		calls.Add(1)
		n, _ := extension.FromContext(ctx).BindingData("DeliveryCount")
		mu.Lock()
		counts_ = append(counts_, n.(int))
		mu.Unlock()
		return errors.New("boom")
	}), servicebus.Trigger("s", q))
	start := time.Now()
	send(t, q, "poison")
	wantCounts(t, q+"/$DeadLetterQueue", amqppeer.Counts{Active: 1, Total: 1})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("3 deliveries took %v: abandon should make the message come back at once", d)
	}
	dl, err := peer.DeadLetters(testCtx(t), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].Reason != "MaxDeliveryCountExceeded" || dl[0].Body != "poison" {
		t.Errorf("dead letters %+v", dl)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(counts_, []int{1, 2, 3}) {
		t.Errorf("delivery counts %v, want [1 2 3]", counts_)
	}
}

// What the handler settles through MessageActions is not settled again: dead-letter with a
// reason, defer, complete-then-fail, abandon with modified properties, and auto-completion of the rest.
func TestHandlerSettlement(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	var mu sync.Mutex
	seen := map[string][]*azservicebus.ReceivedMessage{}
	var doubleErr atomic.Value
	startHost(t, hostCfg{}, "Settles", extension.Action(func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		mu.Lock()
		seen[string(m.Body)] = append(seen[string(m.Body)], m)
		n := len(seen[string(m.Body)])
		mu.Unlock()
		a := servicebus.ActionsFrom(ctx)
		if a == nil {
			return errors.New("no MessageActions")
		}
		switch string(m.Body) {
		case "deadletter":
			if err := a.DeadLetter(ctx, m, &servicebus.DeadLetterOptions{Reason: "bad-order", Description: "no items"}); err != nil {
				return err
			}
			if err := a.Complete(ctx, m); !errors.Is(err, servicebus.ErrAlreadySettled) {
				doubleErr.Store(fmt.Sprintf("second settlement: %v", err))
			}
		case "defer":
			return a.Defer(ctx, nil, nil)
		case "complete-then-fail":
			if err := a.Complete(ctx, m); err != nil {
				return err
			}
			return errors.New("failed after completing")
		case "abandon":
			if n == 1 {
				return a.Abandon(ctx, m, map[string]any{"reason": "retry-me"})
			}
			if m.ApplicationProperties["reason"] != "retry-me" {
				return fmt.Errorf("abandoned properties not kept: %v", m.ApplicationProperties)
			}
		}
		return nil
	}), servicebus.Trigger("m", q))
	send(t, q, "deadletter", "defer", "complete-then-fail", "abandon", "auto")
	wantCounts(t, q, amqppeer.Counts{Deferred: 1, DeadLettered: 1, Total: 1})
	wantCounts(t, q+"/$DeadLetterQueue", amqppeer.Counts{Active: 1, Total: 1})
	dl, _ := peer.DeadLetters(testCtx(t), q)
	if len(dl) != 1 || dl[0].Reason != "bad-order" || dl[0].Description != "no items" {
		t.Errorf("dead letters %+v", dl)
	}
	if v := doubleErr.Load(); v != nil {
		t.Error(v)
	}
	// Absence check, in a bounded window: no message is invoked again within 300 ms.
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"deadletter": 1, "defer": 1, "complete-then-fail": 1, "abandon": 2, "auto": 1}
	for b, n := range want {
		if len(seen[b]) != n {
			t.Errorf("%s delivered %d times, want %d", b, len(seen[b]), n)
		}
	}
}

// A handler slower than the lock duration keeps its lock (auto-renewal): no redelivery, no
// lock-lost log.
func TestLockRenewal(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{LockDuration: 2 * time.Second})
	var calls atomic.Int64
	h := startHost(t, hostCfg{}, "Slow", extension.Action(func(ctx context.Context, s string) error {
		calls.Add(1)
		time.Sleep(5 * time.Second)
		return nil
	}), servicebus.Trigger("s", q))
	send(t, q, "slow")
	wantCounts(t, q, amqppeer.Counts{})
	if n := calls.Load(); n != 1 {
		t.Errorf("handled %d times, want 1 (the lock was renewed)", n)
	}
	if l := h.logs.String(); strings.Contains(l, "lock lost") || strings.Contains(l, "cannot complete") {
		t.Errorf("logs:\n%s", l)
	}
}

// Without renewal (maxAutoLockRenewalDuration 00:00:00) a handler slower than the lock loses it:
// the log says so, and the message is delivered again.
func TestLockLostReported(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{LockDuration: time.Second})
	var calls atomic.Int64
	h := startHost(t, hostCfg{ext: map[string]any{"maxAutoLockRenewalDuration": "00:00:00"}}, "Slow", extension.Action(func(ctx context.Context, s string) error {
		if calls.Add(1) == 1 {
			time.Sleep(2500 * time.Millisecond)
		}
		return nil
	}), servicebus.Trigger("s", q))
	send(t, q, "slow")
	wantCounts(t, q, amqppeer.Counts{})
	if n := calls.Load(); n != 2 {
		t.Errorf("handled %d times, want 2 (lock lost, then delivered again)", n)
	}
	eventually(t, func() string {
		if l := h.logs.String(); !strings.Contains(l, "its lock was lost") {
			return "no lock-lost log:\n" + l
		}
		return ""
	})
}

// Sessions: each session's messages in order, one at a time; sessions in parallel.
func TestSessionsFIFOInParallel(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{RequiresSession: true})
	var mu sync.Mutex
	order := map[string][]string{}
	var active, maxActive atomic.Int64
	perSession := map[string]int{}
	var overlap atomic.Bool
	var want = map[string][]string{}
	for _, s := range []string{"A", "B", "C"} {
		for i := range 6 {
			want[s] = append(want[s], fmt.Sprintf("%s%d", s, i))
		}
	}
	var msgs []*azservicebus.Message
	for i := range 6 {
		for _, s := range []string{"A", "B", "C"} {
			msgs = append(msgs, &azservicebus.Message{Body: []byte(want[s][i]), SessionID: to.Ptr(s)})
		}
	}
	sendMsgs(t, q, msgs...) // all before the host starts, so that the sessions overlap
	startHost(t, hostCfg{ext: map[string]any{"sessionIdleTimeout": "00:00:01"}}, "Sessions", extension.Action(func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			old := maxActive.Load()
			if n <= old || maxActive.CompareAndSwap(old, n) {
				break
			}
		}
		sid := *m.SessionID
		mu.Lock()
		perSession[sid]++
		if perSession[sid] > 1 {
			overlap.Store(true)
		}
		order[sid] = append(order[sid], string(m.Body))
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		perSession[sid]--
		mu.Unlock()
		if s := servicebus.SessionFrom(ctx); s == nil || s.SessionID() != sid {
			return errors.New("no SessionActions for the session")
		}
		return nil
	}), servicebus.Trigger("m", q, map[string]any{"isSessionsEnabled": true}))
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	for s, w := range want {
		if !slices.Equal(order[s], w) {
			t.Errorf("session %s handled %v, want %v", s, order[s], w)
		}
	}
	if overlap.Load() {
		t.Error("two messages of one session were handled at once")
	}
	if maxActive.Load() < 2 {
		t.Errorf("at most %d invocation(s) at once: sessions did not run in parallel", maxActive.Load())
	}
}

// A session handler reads and writes the session's state.
func TestSessionState(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{RequiresSession: true})
	states := make(chan string, 3)
	startHost(t, hostCfg{ext: map[string]any{"sessionIdleTimeout": "00:00:01"}}, "State", extension.Action(func(ctx context.Context, s string) error {
		sa := servicebus.SessionFrom(ctx)
		st, err := sa.State(ctx)
		if err != nil {
			return err
		}
		states <- string(st)
		if _, err := sa.RenewLock(ctx); err != nil {
			return err
		}
		return sa.SetState(ctx, append(st, s...))
	}), servicebus.Trigger("s", q, map[string]any{"isSessionsEnabled": true}))
	sendSession(t, q, "S", "a", "b", "c")
	var got []string
	for range 3 {
		select {
		case s := <-states:
			got = append(got, s)
		case <-time.After(waitLong):
			t.Fatalf("states so far %q", got)
		}
	}
	if !slices.Equal(got, []string{"", "a", "ab"}) {
		t.Errorf("states seen %q, want [\"\" a ab]", got)
	}
}

// cardinality many: batches of up to maxMessageBatchSize; a failed batch is abandoned whole.
func TestBatch(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	var mu sync.Mutex
	var sizes []int
	seen := map[string]int{}
	var failOnce atomic.Bool
	startHost(t, hostCfg{ext: map[string]any{"maxMessageBatchSize": 4, "minMessageBatchSize": 4, "maxBatchWaitTime": "00:00:01"}}, "Batch",
		extension.Action(func(ctx context.Context, msgs []string) error {
			ids, _ := extension.FromContext(ctx).BindingData("MessageIdArray")
			if len(ids.([]any)) != len(msgs) {
				return fmt.Errorf("MessageIdArray %v for %d messages", ids, len(msgs))
			}
			mu.Lock()
			sizes = append(sizes, len(msgs))
			for _, m := range msgs {
				seen[m]++
			}
			mu.Unlock()
			if failOnce.CompareAndSwap(false, true) {
				return errors.New("first batch fails")
			}
			return nil
		}), servicebus.Trigger("m", q, map[string]any{"cardinality": "many"}))
	var bodies []string
	for i := range 10 {
		bodies = append(bodies, fmt.Sprint("m", i))
	}
	send(t, q, bodies...)
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range sizes {
		if n > 4 {
			t.Errorf("batch of %d > maxMessageBatchSize 4", n)
		}
		total += n
	}
	if total != 10+sizes[0] {
		t.Errorf("batches %v: want 10 messages plus the failed first batch again", sizes)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 10 {
		t.Errorf("seen %v", seen)
	}
}
