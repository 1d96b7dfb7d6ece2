package amqppeer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/azbind/azbind/internal/amqppeer"
)

func sbClient(t *testing.T) *azservicebus.Client {
	t.Helper()
	return sbClientFor(t, peer.ConnectionString)
}

func sbClientFor(t *testing.T, connStr string) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(connStr, &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{MaxRetries: 3, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 500 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx(t)) })
	return c
}

func sender(t *testing.T, c *azservicebus.Client, entity string) *azservicebus.Sender {
	t.Helper()
	s, err := c.NewSender(entity, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(ctx(t)) })
	return s
}

func queueReceiver(t *testing.T, c *azservicebus.Client, q string, opts *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	t.Helper()
	r, err := c.NewReceiverForQueue(q, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx(t)) })
	return r
}

func send(t *testing.T, s *azservicebus.Sender, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if err := s.SendMessage(ctx(t), &azservicebus.Message{Body: []byte(b)}, nil); err != nil {
			t.Fatalf("send %q: %v", b, err)
		}
	}
}

// receiveN receives exactly n messages (within 10 s).
func receiveN(t *testing.T, r *azservicebus.Receiver, n int) []*azservicebus.ReceivedMessage {
	t.Helper()
	var out []*azservicebus.ReceivedMessage
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages", len(out), n)
		}
		msgs, err := r.ReceiveMessages(ctx(t), n-len(out), nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msgs...)
	}
	return out
}

func counts(t *testing.T, entity string) amqppeer.Counts {
	t.Helper()
	c, err := peer.Counts(ctx(t), entity)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantCounts(t *testing.T, entity string, want amqppeer.Counts) {
	t.Helper()
	eventually(t, 5*time.Second, func() string {
		got := counts(t, entity)
		if got != want {
			return fmt.Sprintf("counts of %s = %+v, want %+v", entity, got, want)
		}
		return ""
	})
}

func bodies(msgs []*azservicebus.ReceivedMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Body))
	}
	return out
}

func TestSBSendReceiveComplete(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "hello")
	wantCounts(t, q, amqppeer.Counts{Active: 1, Total: 1})
	r := queueReceiver(t, c, q, nil)
	msgs := receiveN(t, r, 1)
	if string(msgs[0].Body) != "hello" || msgs[0].DeliveryCount != 1 {
		t.Fatalf("got body %q delivery count %d", msgs[0].Body, msgs[0].DeliveryCount)
	}
	wantCounts(t, q, amqppeer.Counts{Active: 1, Locked: 1, Total: 1})
	if err := r.CompleteMessage(ctx(t), msgs[0], nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBPropertiesRoundTrip(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	s := sender(t, c, q)
	sched := time.Now().Add(2500 * time.Millisecond).UTC().Truncate(time.Millisecond)
	in := &azservicebus.Message{
		Body:          []byte(`{"a":1}`),
		MessageID:     to.Ptr("mid-1"),
		ContentType:   to.Ptr("application/json"),
		CorrelationID: to.Ptr("corr-1"),
		Subject:       to.Ptr("subj"),
		To:            to.Ptr("to-x"),
		ReplyTo:       to.Ptr("reply-q"),
		TimeToLive:    to.Ptr(time.Hour),
		ApplicationProperties: map[string]any{
			"s": "str", "i64": int64(-42), "i32": int32(7), "b": true, "f": 1.5,
		},
		ScheduledEnqueueTime: &sched,
	}
	if err := s.SendMessage(ctx(t), in, nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{Scheduled: 1, Total: 1})
	r := queueReceiver(t, c, q, nil)
	m := receiveN(t, r, 1)[0]
	if time.Now().Before(sched) {
		t.Errorf("scheduled message delivered before its time %v", sched)
	}
	check := func(field string, got, want any) {
		if got != want {
			t.Errorf("%s = %#v, want %#v", field, got, want)
		}
	}
	check("Body", string(m.Body), `{"a":1}`)
	check("MessageID", m.MessageID, "mid-1")
	check("ContentType", *m.ContentType, "application/json")
	check("CorrelationID", *m.CorrelationID, "corr-1")
	check("Subject", *m.Subject, "subj")
	check("To", *m.To, "to-x")
	check("ReplyTo", *m.ReplyTo, "reply-q")
	check("TimeToLive", *m.TimeToLive, time.Hour)
	check("ScheduledEnqueueTime", m.ScheduledEnqueueTime.UTC(), sched)
	for k, v := range in.ApplicationProperties {
		check("ApplicationProperties["+k+"]", m.ApplicationProperties[k], v)
	}
	if m.ExpiresAt == nil || m.ExpiresAt.Sub(*m.EnqueuedTime) != time.Hour {
		t.Errorf("ExpiresAt = %v, EnqueuedTime %v", m.ExpiresAt, m.EnqueuedTime)
	}

	// Session id round-trips too (on a session queue).
	sq := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: sq, RequiresSession: true}}})
	if err := sender(t, c, sq).SendMessage(ctx(t), &azservicebus.Message{Body: []byte("x"), SessionID: to.Ptr("sess-a")}, nil); err != nil {
		t.Fatal(err)
	}
	sr, err := c.AcceptSessionForQueue(ctx(t), sq, "sess-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close(ctx(t))
	msgs, err := sr.ReceiveMessages(ctx(t), 1, nil)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("session receive: %d messages, %v", len(msgs), err)
	}
	if msgs[0].SessionID == nil || *msgs[0].SessionID != "sess-a" {
		t.Errorf("SessionID = %v, want sess-a", msgs[0].SessionID)
	}
}

func TestSBMessageTTLExpires(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	if err := sender(t, c, q).SendMessage(ctx(t), &azservicebus.Message{Body: []byte("short"), TimeToLive: to.Ptr(300 * time.Millisecond)}, nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBBatchAndTopicFanOut(t *testing.T) {
	t.Parallel()
	topic := name(t)
	create(t, amqppeer.Config{Topics: []amqppeer.Topic{{Name: topic, Subscriptions: []amqppeer.Subscription{{Name: "s1"}, {Name: "s2"}}}}})
	c := sbClient(t)
	s := sender(t, c, topic)
	batch, err := s.NewMessageBatch(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"m1", "m2", "m3"} {
		if err := batch.AddMessage(&azservicebus.Message{Body: []byte(b)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendMessageBatch(ctx(t), batch, nil); err != nil {
		t.Fatal(err)
	}
	send(t, s, "m4")
	for _, sub := range []string{"s1", "s2"} {
		wantCounts(t, topic+"/Subscriptions/"+sub, amqppeer.Counts{Active: 4, Total: 4})
		r, err := c.NewReceiverForSubscription(topic, sub, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
		if err != nil {
			t.Fatal(err)
		}
		got := bodies(receiveN(t, r, 4))
		if fmt.Sprint(got) != "[m1 m2 m3 m4]" {
			t.Errorf("subscription %s got %v, want [m1 m2 m3 m4] in order", sub, got)
		}
		_ = r.Close(ctx(t))
	}

	// A subscription has its own dead-letter queue.
	send(t, s, "bad")
	r1, err := c.NewReceiverForSubscription(topic, "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close(ctx(t))
	m := receiveN(t, r1, 1)[0]
	if err := r1.DeadLetterMessage(ctx(t), m, &azservicebus.DeadLetterOptions{Reason: to.Ptr("SubReason")}); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, topic+"/Subscriptions/s1", amqppeer.Counts{DeadLettered: 1})
	wantCounts(t, topic+"/Subscriptions/s2", amqppeer.Counts{Active: 1, Total: 1})
	dr, err := c.NewReceiverForSubscription(topic, "s1", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close(ctx(t))
	d := receiveN(t, dr, 1)[0]
	if string(d.Body) != "bad" || d.DeadLetterReason == nil || *d.DeadLetterReason != "SubReason" {
		t.Fatalf("subscription DLQ message %q reason %v", d.Body, d.DeadLetterReason)
	}
}

func TestSBPeekLockAnnotationsAndCredit(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, LockDuration: 30 * time.Second}}})
	c := sbClient(t)
	before := time.Now().Add(-time.Second)
	send(t, sender(t, c, q), "a", "b", "c")
	r := queueReceiver(t, c, q, nil)
	msgs, err := r.ReceiveMessages(ctx(t), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) > 2 {
		t.Fatalf("asked for 2 messages, got %d", len(msgs))
	}
	msgs = append(msgs, receiveN(t, r, 3-len(msgs))...)
	var prevSeq int64 = -1
	tokens := map[[16]byte]bool{}
	for i, m := range msgs {
		if m.SequenceNumber == nil || *m.SequenceNumber <= prevSeq {
			t.Errorf("message %d: sequence number %v not increasing after %d", i, m.SequenceNumber, prevSeq)
		} else {
			prevSeq = *m.SequenceNumber
		}
		if m.EnqueuedTime == nil || m.EnqueuedTime.Before(before) || m.EnqueuedTime.After(time.Now().Add(time.Second)) {
			t.Errorf("message %d: enqueued time %v", i, m.EnqueuedTime)
		}
		if m.LockedUntil == nil || m.LockedUntil.Sub(*m.EnqueuedTime) < 25*time.Second {
			t.Errorf("message %d: locked until %v (enqueued %v, lock 30s)", i, m.LockedUntil, m.EnqueuedTime)
		}
		if m.LockToken == ([16]byte{}) || tokens[m.LockToken] {
			t.Errorf("message %d: lock token %x empty or reused", i, m.LockToken)
		}
		tokens[m.LockToken] = true
		if m.DeliveryCount != 1 {
			t.Errorf("message %d: delivery count %d, want 1", i, m.DeliveryCount)
		}
	}
	if fmt.Sprint(bodies(msgs)) != "[a b c]" {
		t.Errorf("bodies %v, want [a b c]", bodies(msgs))
	}
	wantCounts(t, q, amqppeer.Counts{Active: 3, Locked: 3, Total: 3})
	for _, m := range msgs {
		if err := r.CompleteMessage(ctx(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBReceiveAndDelete(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "x", "y")
	r := queueReceiver(t, c, q, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	got := receiveN(t, r, 2)
	if fmt.Sprint(bodies(got)) != "[x y]" {
		t.Fatalf("got %v", bodies(got))
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBAbandon(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	if err := sender(t, c, q).SendMessage(ctx(t), &azservicebus.Message{Body: []byte("m"), ApplicationProperties: map[string]any{"k": "v0"}}, nil); err != nil {
		t.Fatal(err)
	}
	r := queueReceiver(t, c, q, nil)
	m := receiveN(t, r, 1)[0]
	if err := r.AbandonMessage(ctx(t), m, &azservicebus.AbandonMessageOptions{PropertiesToModify: map[string]any{"k": "v1", "new": int64(5)}}); err != nil {
		t.Fatal(err)
	}
	m2 := receiveN(t, r, 1)[0]
	if m2.DeliveryCount != 2 || *m2.SequenceNumber != *m.SequenceNumber {
		t.Errorf("redelivery: delivery count %d (want 2), seq %d (want %d)", m2.DeliveryCount, *m2.SequenceNumber, *m.SequenceNumber)
	}
	if m2.ApplicationProperties["k"] != "v1" || m2.ApplicationProperties["new"] != int64(5) {
		t.Errorf("properties after abandon: %v", m2.ApplicationProperties)
	}
	if m2.LockToken == m.LockToken {
		t.Errorf("redelivery kept the old lock token")
	}
	if err := r.CompleteMessage(ctx(t), m2, nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBDeadLetter(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	if err := sender(t, c, q).SendMessage(ctx(t), &azservicebus.Message{Body: []byte("poison"), MessageID: to.Ptr("p1")}, nil); err != nil {
		t.Fatal(err)
	}
	r := queueReceiver(t, c, q, nil)
	m := receiveN(t, r, 1)[0]
	if err := r.DeadLetterMessage(ctx(t), m, &azservicebus.DeadLetterOptions{Reason: to.Ptr("BadInput"), ErrorDescription: to.Ptr("cannot parse")}); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{DeadLettered: 1})
	dl, err := peer.DeadLetters(ctx(t), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].Reason != "BadInput" || dl[0].Description != "cannot parse" || dl[0].MessageID != "p1" || dl[0].Body != "poison" {
		t.Fatalf("dead letters: %+v", dl)
	}
	dr := queueReceiver(t, c, q, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := receiveN(t, dr, 1)[0]
	if d.DeadLetterReason == nil || *d.DeadLetterReason != "BadInput" || d.DeadLetterErrorDescription == nil || *d.DeadLetterErrorDescription != "cannot parse" {
		t.Errorf("DLQ message reason %v description %v", d.DeadLetterReason, d.DeadLetterErrorDescription)
	}
	if d.DeadLetterSource == nil || *d.DeadLetterSource != q {
		t.Errorf("DeadLetterSource = %v, want %s", d.DeadLetterSource, q)
	}
	if err := dr.CompleteMessage(ctx(t), d, nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBDeferAndReceiveDeferred(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "later", "now")
	r := queueReceiver(t, c, q, nil)
	m := receiveN(t, r, 1)[0]
	if string(m.Body) != "later" {
		t.Fatalf("first message %q", m.Body)
	}
	if err := r.DeferMessage(ctx(t), m, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		// The other message may be locked for a moment: the SDK's releaser gives back what its
		// spare credit brings in.
		if got := counts(t, q); got.Active != 1 || got.Deferred != 1 || got.Total != 2 {
			return fmt.Sprintf("counts %+v, want 1 active and 1 deferred", got)
		}
		return ""
	})
	n := receiveN(t, r, 1)[0]
	if string(n.Body) != "now" {
		t.Fatalf("deferred message was delivered again: %q", n.Body)
	}
	if err := r.CompleteMessage(ctx(t), n, nil); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReceiveDeferredMessages(ctx(t), []int64{*m.SequenceNumber}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Body) != "later" || got[0].State != azservicebus.MessageStateDeferred || got[0].LockToken == ([16]byte{}) {
		t.Fatalf("deferred: %d messages %v", len(got), bodies(got))
	}
	// Settling a deferred message goes through $management (update-disposition).
	if err := r.CompleteMessage(ctx(t), got[0], nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{})
	if _, err := r.ReceiveDeferredMessages(ctx(t), []int64{*m.SequenceNumber}, nil); err == nil {
		t.Errorf("receiving a completed deferred message succeeded")
	}
}

func TestSBSettleThroughManagementAfterDetach(t *testing.T) {
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "a", "b")
	r := queueReceiver(t, c, q, nil)
	msgs := receiveN(t, r, 2)
	// The receive link is gone; the SDK then settles over $management (update-disposition).
	if err := peer.DetachLinks(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.CompleteMessage(ctx(t), msgs[0], nil); err != nil {
		t.Fatalf("complete after detach: %v", err)
	}
	if err := r.DeadLetterMessage(ctx(t), msgs[1], &azservicebus.DeadLetterOptions{Reason: to.Ptr("viaMgmt")}); err != nil {
		t.Fatalf("dead-letter after detach: %v", err)
	}
	wantCounts(t, q, amqppeer.Counts{DeadLettered: 1})
	dl, err := peer.DeadLetters(ctx(t), q)
	if err != nil || len(dl) != 1 || dl[0].Reason != "viaMgmt" {
		t.Fatalf("dead letters %+v, %v", dl, err)
	}
}

func TestSBLockExpiryRedelivers(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, LockDuration: time.Second}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "m")
	r := queueReceiver(t, c, q, nil)
	m := receiveN(t, r, 1)[0]
	m2 := receiveN(t, r, 1)[0] // arrives once the lock expires
	if m2.DeliveryCount != 2 || *m2.SequenceNumber != *m.SequenceNumber {
		t.Fatalf("after lock expiry: delivery count %d (want 2)", m2.DeliveryCount)
	}
	err := r.CompleteMessage(ctx(t), m, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Fatalf("completing with the expired lock: %v, want CodeLockLost", err)
	}
	if err := r.CompleteMessage(ctx(t), m2, nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBRenewLock(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, LockDuration: 1500 * time.Millisecond}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "m")
	r := queueReceiver(t, c, q, nil)
	m := receiveN(t, r, 1)[0]
	first := *m.LockedUntil
	for range 3 {
		// Not synchronisation: time passing is what is tested (renewals 600 ms apart keep a 1.5 s lock).
		time.Sleep(600 * time.Millisecond)
		if err := r.RenewMessageLock(ctx(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !m.LockedUntil.After(first.Add(time.Second)) {
		t.Errorf("LockedUntil %v not advanced from %v", m.LockedUntil, first)
	}
	// Not synchronisation: past the original lock, only the renewals keep it.
	time.Sleep(300 * time.Millisecond)
	// 2.1 s after receipt with a 1.5 s lock: only the renewals kept the lock.
	if err := r.CompleteMessage(ctx(t), m, nil); err != nil {
		t.Fatalf("complete after renewals: %v", err)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBMaxDeliveryCountDeadLetters(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q, MaxDeliveryCount: 3}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "m")
	r := queueReceiver(t, c, q, nil)
	for i := 1; i <= 3; i++ {
		m := receiveN(t, r, 1)[0]
		if int(m.DeliveryCount) != i {
			t.Fatalf("delivery %d: count %d", i, m.DeliveryCount)
		}
		if err := r.AbandonMessage(ctx(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantCounts(t, q, amqppeer.Counts{DeadLettered: 1})
	dl, err := peer.DeadLetters(ctx(t), q)
	if err != nil || len(dl) != 1 || dl[0].Reason != "MaxDeliveryCountExceeded" || dl[0].DeliveryCount != 3 {
		t.Fatalf("dead letters %+v, %v", dl, err)
	}
	dr := queueReceiver(t, c, q, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter, ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	d := receiveN(t, dr, 1)[0]
	if d.DeadLetterReason == nil || *d.DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Errorf("DLQ message reason %v", d.DeadLetterReason)
	}
}

func TestSBReleasedMessageIsNotCounted(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	s := sender(t, c, q)
	r := queueReceiver(t, c, q, nil)
	// The receive link is attached first (a message received and completed), so that the empty
	// receive below grants its credit even on a busy machine.
	send(t, s, "warm")
	if err := r.CompleteMessage(ctx(t), receiveN(t, r, 1)[0], nil); err != nil {
		t.Fatal(err)
	}
	// An empty receive leaves credit on the link; the message sent next arrives outside
	// ReceiveMessages, and the SDK's releaser releases it.
	short, cancel := contextWithTimeout(t, 300*time.Millisecond)
	_, _ = r.ReceiveMessages(short, 5, nil)
	cancel()
	send(t, s, "rel")
	eventually(t, 10*time.Second, func() string {
		if n, err := peer.Releases(ctx(t), q); err != nil || n < 1 {
			return fmt.Sprintf("%d releases (%v): want the message released", n, err)
		}
		return ""
	})
	m := receiveN(t, r, 1)[0]
	if m.DeliveryCount != 1 {
		t.Fatalf("released message came back with delivery count %d, want 1", m.DeliveryCount)
	}
	if err := r.CompleteMessage(ctx(t), m, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSBPeek(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	send(t, sender(t, c, q), "p1", "p2", "p3")
	r := queueReceiver(t, c, q, nil)
	got, err := r.PeekMessages(ctx(t), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bodies(got)) != "[p1 p2]" {
		t.Fatalf("peek got %v", bodies(got))
	}
	wantCounts(t, q, amqppeer.Counts{Active: 3, Total: 3})
	more, err := r.PeekMessages(ctx(t), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: to.Ptr(*got[1].SequenceNumber + 1)})
	if err != nil || fmt.Sprint(bodies(more)) != "[p3]" {
		t.Fatalf("peek from seq: %v, %v", bodies(more), err)
	}
	m := receiveN(t, r, 1)[0]
	if m.DeliveryCount != 1 {
		t.Errorf("peek counted as a delivery: count %d", m.DeliveryCount)
	}
}

func TestSBScheduleAndCancel(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	s := sender(t, c, q)
	seqs, err := s.ScheduleMessages(ctx(t), []*azservicebus.Message{{Body: []byte("s1")}, {Body: []byte("s2")}}, time.Now().Add(time.Hour), nil)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("schedule: %v, %v", seqs, err)
	}
	wantCounts(t, q, amqppeer.Counts{Scheduled: 2, Total: 2})
	if err := s.CancelScheduledMessages(ctx(t), seqs[:1], nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, q, amqppeer.Counts{Scheduled: 1, Total: 1})
}

func TestSBWrongKeyIsUnauthorized(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	before, err := peer.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	c := sbClientFor(t, peer.WrongKeyConnectionString())
	s, err := c.NewSender(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.SendMessage(ctx(t), &azservicebus.Message{Body: []byte("x")}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeUnauthorizedAccess {
		t.Fatalf("send with a wrong key: %v, want CodeUnauthorizedAccess", err)
	}
	after, err := peer.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if after.TokensRejected <= before.TokensRejected {
		t.Errorf("peer rejected no token: %+v", after)
	}
	wantCounts(t, q, amqppeer.Counts{})
}

func TestSBTopicScheduleAndSequenceNumbers(t *testing.T) {
	t.Parallel()
	topic := name(t)
	create(t, amqppeer.Config{Topics: []amqppeer.Topic{{Name: topic, Subscriptions: []amqppeer.Subscription{{Name: "a"}, {Name: "b"}}}}})
	c := sbClient(t)
	s := sender(t, c, topic)
	seqs, err := s.ScheduleMessages(ctx(t), []*azservicebus.Message{{Body: []byte("x")}, {Body: []byte("y")}}, time.Now().Add(time.Hour), nil)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("schedule on a topic: %v, %v", seqs, err)
	}
	for _, sub := range []string{"a", "b"} {
		wantCounts(t, topic+"/Subscriptions/"+sub, amqppeer.Counts{Scheduled: 2, Total: 2})
	}
	if err := s.CancelScheduledMessages(ctx(t), seqs, nil); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"a", "b"} {
		wantCounts(t, topic+"/Subscriptions/"+sub, amqppeer.Counts{})
	}
	// Every subscription's copy carries the topic's sequence number.
	send(t, s, "m")
	var got []int64
	for _, sub := range []string{"a", "b"} {
		r, err := c.NewReceiverForSubscription(topic, sub, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *receiveN(t, r, 1)[0].SequenceNumber)
		_ = r.Close(ctx(t))
	}
	if got[0] != got[1] {
		t.Errorf("sequence numbers of the copies differ: %v", got)
	}
}

func TestSBUnknownEntityIsNotFound(t *testing.T) {
	t.Parallel()
	c := sbClient(t)
	s, err := c.NewSender("no-such-queue", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.SendMessage(ctx(t), &azservicebus.Message{Body: []byte("x")}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeNotFound {
		t.Fatalf("send to an unknown queue: %v, want CodeNotFound", err)
	}
}

// The peer locks only what the link credit lets it send, as the service does: a receive of 5 from
// a queue of 40 leaves 5 locked and 35 available to other receivers. (rhea takes credit only when
// it writes a transfer; the peer used to lock every available message on the first flow.)
func TestSBLocksOnlyWithinLinkCredit(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	var bs []string
	for i := range 40 {
		bs = append(bs, fmt.Sprint("m", i))
	}
	send(t, sender(t, c, q), bs...)
	r := queueReceiver(t, c, q, nil)
	got := receiveN(t, r, 5)
	if n := counts(t, q).Locked; n != 5 {
		t.Errorf("after receiving 5 messages the peer holds %d locked, want 5", n)
	}
	other := queueReceiver(t, c, q, nil)
	rest := receiveN(t, other, 35)
	for _, m := range append(got, rest...) {
		if m.DeliveryCount != 1 {
			t.Errorf("%s: delivery count %d, want 1", m.Body, m.DeliveryCount)
		}
	}
}

// One receiver's session carries any number of peek-lock deliveries, also while its oldest message
// stays locked throughout: the service forgets a delivery once it settled the client's outcome.
// The peer used to keep them in rhea's 2048-slot session buffer (go-amqp in receiver-settle-mode
// second never settles after the sender), and the 2049th receive waited forever.
func TestSBManyPeekLockDeliveriesOnOneSession(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	s := sender(t, c, q)
	const total = 5000
	for sent := 0; sent < total; {
		b, err := s.NewMessageBatch(ctx(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		for ; sent < total && b.NumMessages() < 250; sent++ {
			if err := b.AddMessage(&azservicebus.Message{Body: []byte(fmt.Sprint(sent))}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SendMessageBatch(ctx(t), b, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := queueReceiver(t, c, q, nil)
	held := receiveN(t, r, 1)[0]
	got := 1
	deadline := time.Now().Add(2 * time.Minute)
	for got < total {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages; counts %+v", got, total, counts(t, q))
		}
		rctx, cancel := context.WithTimeout(ctx(t), 10*time.Second)
		msgs, err := r.ReceiveMessages(rctx, min(100, total-got), nil)
		cancel()
		if err != nil && len(msgs) == 0 {
			t.Fatalf("after %d of %d messages: %v; counts %+v", got, total, err, counts(t, q))
		}
		var wg sync.WaitGroup
		for _, m := range msgs {
			wg.Go(func() {
				if err := r.CompleteMessage(ctx(t), m, nil); err != nil {
					t.Errorf("complete: %v", err)
				}
			})
		}
		wg.Wait()
		got += len(msgs)
	}
	if err := r.CompleteMessage(ctx(t), held, nil); err != nil {
		t.Fatalf("completing the message held throughout: %v", err)
	}
	wantCounts(t, q, amqppeer.Counts{})
}
