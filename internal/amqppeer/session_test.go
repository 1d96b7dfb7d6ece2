package amqppeer_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/azbind/azbind/internal/amqppeer"
)

func sendSession(t *testing.T, s *azservicebus.Sender, session string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if err := s.SendMessage(ctx(t), &azservicebus.Message{Body: []byte(b), SessionID: to.Ptr(session)}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func receiveSessionN(t *testing.T, r *azservicebus.SessionReceiver, n int) []*azservicebus.ReceivedMessage {
	t.Helper()
	var out []*azservicebus.ReceivedMessage
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d session messages", len(out), n)
		}
		msgs, err := r.ReceiveMessages(ctx(t), n-len(out), nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msgs...)
	}
	return out
}

func TestSBSessionsNamedFIFOAndExclusive(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, RequiresSession: true}}})
	c := sbClient(t)
	s := sender(t, c, q)
	sendSession(t, s, "A", "a1")
	sendSession(t, s, "B", "b1")
	sendSession(t, s, "A", "a2", "a3")
	sendSession(t, s, "B", "b2")

	ra, err := c.AcceptSessionForQueue(ctx(t), q, "A", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close(ctx(t))
	if ra.SessionID() != "A" {
		t.Fatalf("SessionID() = %q", ra.SessionID())
	}
	if ra.LockedUntil().Before(time.Now()) {
		t.Errorf("session LockedUntil %v is in the past", ra.LockedUntil())
	}
	got := receiveSessionN(t, ra, 3)
	if fmt.Sprint(bodies(got)) != "[a1 a2 a3]" {
		t.Fatalf("session A got %v, want [a1 a2 a3] (FIFO, only session A)", bodies(got))
	}
	for _, m := range got {
		if err := ra.CompleteMessage(ctx(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}

	// A second receiver for the same session is refused while the first holds it.
	_, err = c.AcceptSessionForQueue(ctx(t), q, "A", nil)
	if err == nil {
		t.Fatal("a second receiver accepted session A while it was locked")
	}

	// A message without a session id is refused by a session queue.
	if err := s.SendMessage(ctx(t), &azservicebus.Message{Body: []byte("no-session")}, nil); err == nil {
		t.Error("a session queue accepted a message without a session id")
	}

	// A plain receiver cannot attach to a session queue.
	pr, err := c.NewReceiverForQueue(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := contextWithTimeout(t, 3*time.Second)
	_, err = pr.ReceiveMessages(short, 1, nil)
	cancel()
	if err == nil {
		t.Error("a non-session receiver received from a session queue")
	}
	_ = pr.Close(ctx(t))

	rb, err := c.AcceptSessionForQueue(ctx(t), q, "B", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close(ctx(t))
	if got := bodies(receiveSessionN(t, rb, 2)); fmt.Sprint(got) != "[b1 b2]" {
		t.Fatalf("session B got %v", got)
	}
}

func TestSBSessionsNextAvailable(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, RequiresSession: true}}})
	c := sbClient(t)
	s := sender(t, c, q)
	sendSession(t, s, "first", "f1")
	sendSession(t, s, "second", "s1")

	r1, err := c.AcceptNextSessionForQueue(ctx(t), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close(ctx(t))
	r2, err := c.AcceptNextSessionForQueue(ctx(t), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(ctx(t))
	if r1.SessionID() != "first" || r2.SessionID() != "second" {
		t.Fatalf("next sessions %q, %q; want first, second", r1.SessionID(), r2.SessionID())
	}
	if got := bodies(receiveSessionN(t, r2, 1)); fmt.Sprint(got) != "[s1]" {
		t.Fatalf("second session got %v", got)
	}

	// No free session left: AcceptNextSession gives up at its deadline.
	short, cancel := contextWithTimeout(t, 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.AcceptNextSessionForQueue(short, q, nil)
	if err == nil {
		t.Fatal("AcceptNextSessionForQueue succeeded with every session locked")
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("AcceptNextSession took %v", time.Since(start))
	}
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) {
		t.Logf("no session available: code %s", sbErr.Code)
	}

	// A waiting AcceptNextSession gets the session whose first message arrives while it waits.
	type result struct {
		r   *azservicebus.SessionReceiver
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := c.AcceptNextSessionForQueue(ctx(t), q, nil)
		done <- result{r, err}
	}()
	// Ordering, not an assertion's synchronisation: the accept is usually pending before the send; if
	// it is not yet, the accept finds the session at once and the test still holds.
	time.Sleep(300 * time.Millisecond)
	sendSession(t, s, "late", "l1")
	res := <-done
	if res.err != nil {
		t.Fatalf("waiting AcceptNextSession: %v", res.err)
	}
	defer res.r.Close(ctx(t))
	if res.r.SessionID() != "late" {
		t.Fatalf("waiting AcceptNextSession got session %q, want late", res.r.SessionID())
	}
	if got := bodies(receiveSessionN(t, res.r, 1)); got[0] != "l1" {
		t.Fatalf("late session got %v", got)
	}
}

func TestSBSessionStateAndLockRenewal(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, RequiresSession: true, LockDuration: 2 * time.Second}}})
	c := sbClient(t)
	sendSession(t, sender(t, c, q), "S", "m1")
	r, err := c.AcceptSessionForQueue(ctx(t), q, "S", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx(t))

	st, err := r.GetSessionState(ctx(t), nil)
	if err != nil || st != nil {
		t.Fatalf("initial state %q, %v", st, err)
	}
	if err := r.SetSessionState(ctx(t), []byte("checkpoint-7"), nil); err != nil {
		t.Fatal(err)
	}
	st, err = r.GetSessionState(ctx(t), nil)
	if err != nil || string(st) != "checkpoint-7" {
		t.Fatalf("state after set %q, %v", st, err)
	}

	if err := r.RenewSessionLock(ctx(t), nil); err != nil {
		t.Fatalf("renew session lock: %v", err)
	}
	first := r.LockedUntil()
	for range 3 {
		// Not synchronisation: time passing is what is tested (renewals keep the session lock).
		time.Sleep(750 * time.Millisecond)
		if err := r.RenewSessionLock(ctx(t), nil); err != nil {
			t.Fatalf("renew session lock: %v", err)
		}
	}
	if !r.LockedUntil().After(first.Add(time.Second)) {
		t.Errorf("session LockedUntil %v not advanced from %v", r.LockedUntil(), first)
	}
	// 2.25 s after the first renewal with a 2 s lock: only the renewals kept the session.
	m := receiveSessionN(t, r, 1)[0]
	if err := r.CompleteMessage(ctx(t), m, nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{})

	// The state outlives the receiver.
	_ = r.Close(ctx(t))
	r2, err := c.AcceptSessionForQueue(ctx(t), q, "S", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(ctx(t))
	if st, err := r2.GetSessionState(ctx(t), nil); err != nil || string(st) != "checkpoint-7" {
		t.Fatalf("state for the next receiver %q, %v", st, err)
	}
}

func TestSBSessionLockExpiryReleasesSession(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, RequiresSession: true, LockDuration: time.Second}}})
	c := sbClient(t)
	sendSession(t, sender(t, c, q), "S", "m1")
	r, err := c.AcceptSessionForQueue(ctx(t), q, "S", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx(t))
	m := receiveSessionN(t, r, 1)[0]
	// Not synchronisation: the session lock must expire without renewal (time is what is tested).
	time.Sleep(1500 * time.Millisecond) // the session lock expires without renewal
	short, cancel := contextWithTimeout(t, 2*time.Second)
	err = r.CompleteMessage(short, m, nil)
	cancel()
	_ = r.Close(ctx(t))
	if err == nil {
		t.Fatal("completed a message after its session lock expired")
	}
	t.Logf("complete after session lock expiry: %v", err)
	// The message is back, with its delivery counted, for the next receiver of the session.
	r2, err := c.AcceptSessionForQueue(ctx(t), q, "S", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(ctx(t))
	m2 := receiveSessionN(t, r2, 1)[0]
	// 2, or 3 when the SDK's link recovery during the failed Complete took the message once more.
	if m2.DeliveryCount < 2 {
		t.Errorf("redelivered with count %d, want at least 2", m2.DeliveryCount)
	}
}

func TestSBListSessions(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, RequiresSession: true}}})
	c := sbClient(t)
	s := sender(t, c, q)
	want := map[string]bool{}
	for i := range 3 {
		id := fmt.Sprintf("s-%d", i)
		want[id] = true
		sendSession(t, s, id, "m")
	}
	pager := c.NewListSessionsForQueuePager(q, nil)
	got := map[string]bool{}
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range page.Sessions {
			if got[id] {
				t.Errorf("session %s listed twice", id)
			}
			got[id] = true
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sessions %v, want %v", got, want)
	}
}
