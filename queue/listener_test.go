package queue

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue/queuetest"
)

const waitLong = 30 * time.Second

func testListener(t *testing.T, name string, opts ListenerOptions, handle func(ctx context.Context, m *Message) driver.Result) *Listener {
	t.Helper()
	if opts.MaxPollingInterval == 0 {
		opts.MaxPollingInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slogDiscard()
	}
	var poison *azqueue.QueueClient
	if p := PoisonQueueName(name); p != "" {
		poison = env.Queue(p)
	}
	return NewListener(env.Queue(name), poison, opts, handle)
}

func TestListenerDeliversAndDeletes(t *testing.T) { // C20, success ⇒ delete
	q := env.NewQueue(t)
	want := map[string]bool{}
	for i := range 5 {
		body := fmt.Sprintf("order-%d", i)
		want[body] = true
		env.Send(t, q, []byte(body))
	}
	var mu sync.Mutex
	got := map[string]int{}
	l := testListener(t, q, ListenerOptions{}, func(ctx context.Context, m *Message) driver.Result {
		mu.Lock()
		got[string(m.Body)]++
		mu.Unlock()
		if m.ID == "" || m.PopReceipt == "" || m.DequeueCount != 1 || m.Queue != q || m.InsertionTime.IsZero() {
			t.Errorf("incomplete message: %+v", m)
		}
		return ok
	})
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "5 messages handled and deleted", func() bool {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		return n == 5 && env.Count(t, q) == 0
	})
	stop()
	for body, n := range got {
		if !want[body] || n != 1 {
			t.Errorf("body %q handled %d times", body, n)
		}
	}
	if s := l.Stats(); s.Deleted != 5 || s.ExistenceChecks != 1 {
		t.Errorf("stats = %+v, want 5 deleted and 1 existence check", s)
	}
}

func TestListenerBatchAndThreshold(t *testing.T) { // C20, C21: at most batch + threshold in flight
	q := env.NewQueue(t)
	for i := range 12 {
		env.Send(t, q, []byte(fmt.Sprint(i)))
	}
	var inflight, peak atomic.Int64
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	threshold := 4
	l := testListener(t, q, ListenerOptions{BatchSize: 4, NewBatchThreshold: &threshold}, func(ctx context.Context, m *Message) driver.Result {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inflight.Add(-1)
		return ok
	})
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "8 messages in flight", func() bool { return inflight.Load() == 8 })
	// With 8 in flight (> threshold) the listener must not receive again.
	if r := l.Stats().Receives; r != 2 {
		t.Errorf("receives with 8 in flight = %d, want 2 (batches of 4, next batch at ≤ 4 in flight)", r)
	}
	releaseOnce.Do(func() { close(release) })
	queuetest.WaitFor(t, waitLong, "queue drained", func() bool { return l.Stats().Deleted == 12 })
	stop()
	if p := peak.Load(); p != 8 {
		t.Errorf("peak in flight = %d, want batchSize+newBatchThreshold = 8", p)
	}
}

func TestListenerFailureRedelivers(t *testing.T) { // C24
	q := env.NewQueue(t)
	env.Send(t, q, []byte("x"))
	var calls []int64
	var mu sync.Mutex
	l := testListener(t, q, ListenerOptions{}, func(ctx context.Context, m *Message) driver.Result {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, m.DequeueCount)
		if len(calls) == 1 {
			return fail
		}
		return ok
	})
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "second attempt deleted", func() bool { return l.Stats().Deleted == 1 })
	stop()
	if fmt.Sprint(calls) != "[1 2]" {
		t.Errorf("dequeue counts per attempt = %v, want [1 2]", calls)
	}
	if s := l.Stats(); s.Released != 1 {
		t.Errorf("released = %d, want 1", s.Released)
	}
	if n := env.Count(t, q); n != 0 {
		t.Errorf("queue has %d messages, want 0", n)
	}
}

func TestListenerPoisonAfterMaxDequeueCount(t *testing.T) { // C25: DequeueCount ≥ max ⇒ poison, byte-identical
	q := env.NewQueue(t)
	// A body that is not UTF-8, so any re-encoding would show.
	text := base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe, 'a', 0x80})
	env.SendRaw(t, q, text)
	var calls atomic.Int64
	l := testListener(t, q, ListenerOptions{MaxDequeueCount: 3}, func(ctx context.Context, m *Message) driver.Result {
		calls.Add(1)
		return fail
	})
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "message in poison queue", func() bool { return len(env.Poison(t, q)) == 1 })
	stop()
	if got := env.Poison(t, q); got[0] != text {
		t.Errorf("poison text = %q, want byte-identical %q", got[0], text)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("handler called %d times, want 3", n)
	}
	if n := env.Count(t, q); n != 0 {
		t.Errorf("source queue has %d messages, want 0", n)
	}
}

func TestListenerPoisonWithoutInvokingPastLimit(t *testing.T) { // C25 pre-check: DequeueCount > max
	q := env.NewQueue(t)
	env.Send(t, q, []byte("old"))
	// Receive it twice with a 1 s visibility so that its dequeue count is 2.
	cl := env.Queue(q)
	for range 2 {
		queuetest.WaitFor(t, waitLong, "message visible", func() bool {
			resp, err := cl.DequeueMessages(context.Background(), &azqueue.DequeueMessagesOptions{VisibilityTimeout: ptr(int32(1))})
			return err == nil && len(resp.Messages) == 1
		})
	}
	var calls atomic.Int64
	l := testListener(t, q, ListenerOptions{MaxDequeueCount: 1}, func(ctx context.Context, m *Message) driver.Result {
		calls.Add(1)
		return ok
	})
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "message in poison queue", func() bool { return len(env.Poison(t, q)) == 1 })
	stop()
	if n := calls.Load(); n != 0 {
		t.Errorf("handler called %d times, want 0 for a message past maxDequeueCount", n)
	}
	if got := env.Poison(t, q)[0]; got != base64.StdEncoding.EncodeToString([]byte("old")) {
		t.Errorf("poison text = %q", got)
	}
}

func TestListenerDecodeFailurePoisonsLoudly(t *testing.T) { // C26
	q := env.NewQueue(t)
	text := "this is not base64!"
	id := env.SendRaw(t, q, text)
	var calls atomic.Int64
	logger, logs := newLogger()
	l := testListener(t, q, ListenerOptions{Logger: logger}, func(ctx context.Context, m *Message) driver.Result {
		calls.Add(1)
		return ok
	})
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "message in poison queue", func() bool { return len(env.Poison(t, q)) == 1 })
	stop()
	if got := env.Poison(t, q)[0]; got != text {
		t.Errorf("poison text = %q, want %q", got, text)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler called %d times, want 0", n)
	}
	out := logs.String()
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") {
			line = l
		}
	}
	for _, want := range []string{id, q, "base64", "set messageEncoding to none, or base64-encode messages", "message_id=" + id} {
		if !strings.Contains(line, want) {
			t.Errorf("error log %q does not mention %q", line, want)
		}
	}
}

func TestListenerEncodingNone(t *testing.T) { // C26
	q := env.NewQueue(t)
	env.SendRaw(t, q, "plain {text}")
	got := make(chan string, 1)
	l := testListener(t, q, ListenerOptions{Encoding: None}, func(ctx context.Context, m *Message) driver.Result {
		got <- string(m.Body)
		return ok
	})
	runBG(t, l.Run)
	select {
	case s := <-got:
		if s != "plain {text}" {
			t.Errorf("body = %q", s)
		}
	case <-time.After(waitLong):
		t.Fatal("no delivery")
	}
}

func TestListenerRenewsVisibility(t *testing.T) { // C23
	q := env.NewQueue(t)
	env.Send(t, q, []byte("slow"))
	started := make(chan struct{})
	finish := make(chan struct{})
	var calls atomic.Int64
	l := testListener(t, q, ListenerOptions{ReceiveVisibility: 2 * time.Second}, func(ctx context.Context, m *Message) driver.Result {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-finish
		return ok
	})
	stop := runBG(t, l.Run)
	<-started
	// For 5 s (2.5 × the receive visibility) a competing receiver must find nothing.
	cl := env.Queue(q)
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		resp, err := cl.DequeueMessages(context.Background(), &azqueue.DequeueMessagesOptions{VisibilityTimeout: ptr(int32(30))})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Messages) > 0 {
			t.Fatalf("message became visible while its handler ran (renewals so far: %d)", l.Stats().Renewals)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	close(finish)
	queuetest.WaitFor(t, waitLong, "message deleted", func() bool { return l.Stats().Deleted == 1 })
	stop()
	if s := l.Stats(); s.Renewals < 3 || calls.Load() != 1 {
		t.Errorf("renewals = %d, calls = %d; want ≥ 3 renewals and 1 call", s.Renewals, calls.Load())
	}
	if n := env.Count(t, q); n != 0 {
		t.Errorf("queue has %d messages, want 0", n)
	}
}

func TestListenerGracefulDrain(t *testing.T) { // §3.1 step 11
	q := env.NewQueue(t)
	env.Send(t, q, []byte("inflight"))
	started := make(chan struct{})
	finish := make(chan struct{})
	var handled atomic.Int64
	l := testListener(t, q, ListenerOptions{}, func(ctx context.Context, m *Message) driver.Result {
		close(started)
		<-finish
		if ctx.Err() != nil {
			t.Errorf("handler context cancelled by Run's cancellation: %v", ctx.Err())
		}
		handled.Add(1)
		return ok
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	<-started
	cancel()
	env.Send(t, q, []byte("after-stop"))
	select {
	case <-done:
		t.Fatal("Run returned while a handler was still running")
	case <-time.After(300 * time.Millisecond): // a negative check: Run must still be waiting
	}
	// A receive already in flight at cancellation may complete; none may start afterwards.
	receives := l.Stats().Receives
	close(finish)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("Run did not return after the handler finished")
	}
	if s := l.Stats(); s.Deleted != 1 || s.Receives != receives {
		t.Errorf("stats = %+v: want the in-flight message deleted and no receive after cancellation", s)
	}
	if got := env.PeekDecoded(t, q); len(got) != 1 || got[0] != "after-stop" {
		t.Errorf("queue = %q, want only the message sent after stop", got)
	}
}

func TestListenerCompetingConsumers(t *testing.T) {
	q := env.NewQueue(t)
	const n = 100
	var mu sync.Mutex
	seen := map[string]int{}
	var per [2]atomic.Int64
	var ls []*Listener
	for i := range 2 {
		l := testListener(t, q, ListenerOptions{BatchSize: 8}, func(ctx context.Context, m *Message) driver.Result {
			mu.Lock()
			seen[string(m.Body)]++
			mu.Unlock()
			per[i].Add(1)
			time.Sleep(5 * time.Millisecond) // simulated work
			return ok
		})
		ls = append(ls, l)
		runBG(t, l.Run)
	}
	for i := range n {
		env.Send(t, q, []byte(fmt.Sprint(i)))
	}
	queuetest.WaitFor(t, waitLong, "all messages processed", func() bool {
		return ls[0].Stats().Deleted+ls[1].Stats().Deleted == n
	})
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Errorf("message %d processed %d times", i, c)
		}
	}
	if per[0].Load() == 0 || per[1].Load() == 0 {
		t.Errorf("work split %d/%d: both hosts should take part", per[0].Load(), per[1].Load())
	}
}

func TestListenerCancelledReleasesAtOnce(t *testing.T) {
	q := env.NewQueue(t)
	env.Send(t, q, []byte("c"))
	var calls atomic.Int64
	l := testListener(t, q, ListenerOptions{}, func(ctx context.Context, m *Message) driver.Result {
		if calls.Add(1) == 1 {
			return driver.Result{Status: driver.Cancelled, Err: driver.ErrShutdown}
		}
		return ok
	})
	runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "redelivered and deleted", func() bool { return l.Stats().Deleted == 1 })
	if calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", calls.Load())
	}
}

func TestListenerQueueCreatedLater(t *testing.T) { // §3.1 step 1/5: missing queue ⇒ back-off, then poll
	q := env.QueueName(t)
	env.Cleanup(t, q)
	got := make(chan string, 1)
	logger, logs := newLogger()
	l := testListener(t, q, ListenerOptions{Logger: logger}, func(ctx context.Context, m *Message) driver.Result {
		got <- string(m.Body)
		return ok
	})
	runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "a failed existence check", func() bool { return l.Stats().ReceiveErrors > 0 })
	if _, err := env.Service.CreateQueue(context.Background(), q, nil); err != nil {
		t.Fatal(err)
	}
	env.Send(t, q, []byte("late"))
	select {
	case s := <-got:
		if s != "late" {
			t.Errorf("body = %q", s)
		}
	case <-time.After(waitLong):
		t.Fatal("no delivery after the queue was created")
	}
	if !strings.Contains(logs.String(), "does not exist yet") {
		t.Errorf("no log about the missing queue:\n%s", logs)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a missing queue must not log errors:\n%s", logs)
	}
}

func TestListenerNoPoisonQueueLeavesInvisible(t *testing.T) { // §3.1 step 7, queue named *-poison
	q := env.QueueName(t) + "-poison"
	env.Cleanup(t, q)
	if _, err := env.Service.CreateQueue(context.Background(), q, nil); err != nil {
		t.Fatal(err)
	}
	env.Send(t, q, []byte("p"))
	l := testListener(t, q, ListenerOptions{MaxDequeueCount: 1}, func(ctx context.Context, m *Message) driver.Result { return fail })
	if l.poison != nil {
		t.Fatal("a queue ending in -poison must have no poison queue")
	}
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "one failed invocation", func() bool { return l.Stats().Invocations == 1 })
	stop()
	if s := l.Stats(); s.Released != 0 || s.Poisoned != 0 || s.Deleted != 0 {
		t.Errorf("stats = %+v: the message must be left invisible", s)
	}
	if n := env.Count(t, q); n != 1 {
		t.Errorf("count = %d, want 1 (invisible, not lost)", n)
	}
}

func TestBackoffSequence(t *testing.T) { // C22
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	want := []time.Duration{100, 200, 300, 500, 900}
	for i, w := range want {
		d := b.next()
		w *= time.Millisecond
		lo := 100*time.Millisecond + time.Duration(float64(w-100*time.Millisecond)*0.8)
		hi := 100*time.Millisecond + time.Duration(float64(w-100*time.Millisecond)*1.2)
		if d < lo || d > hi {
			t.Errorf("step %d: %s, want within [%s, %s]", i, d, lo, hi)
		}
	}
	for range 5 {
		if d := b.next(); d != time.Second {
			t.Errorf("capped step = %s, want 1s", d)
		}
	}
	b.reset()
	if d := b.next(); d != 100*time.Millisecond {
		t.Errorf("after reset = %s, want 100ms", d)
	}
}

func TestFailureVisibility(t *testing.T) { // C24 and the optional per-message back-off (azure-webjobs-sdk#1040)
	l := &Listener{opts: ListenerOptions{VisibilityTimeout: 3 * time.Second}.withDefaults()}
	if d := l.failureVisibility(4); d != 3*time.Second {
		t.Errorf("without back-off: %s, want 3s", d)
	}
	l.opts.FailureBackoff = true
	l.opts.MaxFailureBackoff = 20 * time.Second
	for dq, want := range map[int64]time.Duration{1: 3 * time.Second, 2: 6 * time.Second, 3: 12 * time.Second, 4: 20 * time.Second, 100: 20 * time.Second} {
		if d := l.failureVisibility(dq); d != want {
			t.Errorf("dequeue %d: %s, want %s", dq, d, want)
		}
	}
}

func TestListenerFailureBackoffDelaysRedelivery(t *testing.T) {
	q := env.NewQueue(t)
	env.Send(t, q, []byte("b"))
	var mu sync.Mutex
	var times []time.Time
	l := testListener(t, q, ListenerOptions{VisibilityTimeout: time.Second, FailureBackoff: true}, func(ctx context.Context, m *Message) driver.Result {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		if len(times) < 3 {
			return fail
		}
		return ok
	})
	runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "third attempt", func() bool { return l.Stats().Deleted == 1 })
	mu.Lock()
	defer mu.Unlock()
	if g := times[1].Sub(times[0]); g < 900*time.Millisecond {
		t.Errorf("gap 1→2 = %s, want ≥ 1s", g)
	}
	if g := times[2].Sub(times[1]); g < 1900*time.Millisecond {
		t.Errorf("gap 2→3 = %s, want ≥ 2s (doubling)", g)
	}
}

func TestListenerOptionsValidate(t *testing.T) {
	neg := -1
	o := ListenerOptions{BatchSize: 33, NewBatchThreshold: &neg, MaxPollingInterval: time.Millisecond, Encoding: "utf8"}
	err := o.Validate()
	for _, want := range []string{"batchSize", "newBatchThreshold", "maxPollingInterval", "messageEncoding"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want mention of %s", err, want)
		}
	}
	d := ListenerOptions{Concurrency: 2}.withDefaults()
	if d.BatchSize != 16 || *d.NewBatchThreshold != 16 || d.MaxDequeueCount != 5 || d.MaxPollingInterval != time.Minute || d.ReceiveVisibility != 30*time.Second || d.Encoding != Base64 {
		t.Errorf("defaults = %+v", d)
	}
}

func TestListenerWokenByLocalOutput(t *testing.T) { // §3.1 step 6: a write from this process cuts the back-off short
	q := env.NewQueue(t)
	got := make(chan time.Time, 1)
	// The output and the listener belong to one host: its Hub carries the wake-up.
	bc := bindContext(t, Output("out", q), nil, nil, nil)
	hub, err := HubFor(context.Background(), bc.Host)
	if err != nil {
		t.Fatal(err)
	}
	l := testListener(t, q, ListenerOptions{MaxPollingInterval: 30 * time.Second, Hub: hub}, func(ctx context.Context, m *Message) driver.Result {
		got <- time.Now()
		return ok
	})
	runBG(t, l.Run)
	// Seven empty polls (100+200+300+500+900+1700 ms of back-off so far): the next wait is about 3.3 s.
	queuetest.WaitFor(t, waitLong, "seven empty receives", func() bool { return l.Stats().EmptyReceives >= 7 })
	o, err := newOutput(context.Background(), bc)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := o.Open(context.Background(), &driver.FunctionContext{Metadata: driver.MapMetadata{}})
	if err := s.Add(context.Background(), "wake"); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		if d := at.Sub(sent); d > time.Second {
			t.Errorf("delivered %s after the local write, want well under the ~3 s back-off", d)
		}
	case <-time.After(waitLong):
		t.Fatal("no delivery")
	}
}
