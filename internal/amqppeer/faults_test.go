package amqppeer_test

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/azbind/azbind/internal/amqppeer"
)

// The fault tests change peer-wide state, so they do not run in parallel with each other; they
// use their own client, and other tests' clients simply recover.

func TestFaultDropConnections(t *testing.T) {
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	s := sender(t, c, q)
	send(t, s, "before")
	before, err := peer.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.DropConnections(ctx(t)); err != nil {
		t.Fatal(err)
	}
	send(t, s, "after") // the SDK reconnects
	after, err := peer.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if after.Connections <= before.Connections {
		t.Errorf("no new connection after the drop: before %d, after %d", before.Connections, after.Connections)
	}
	r := queueReceiver(t, c, q, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	if got := bodies(receiveN(t, r, 2)); len(got) != 2 || got[0] != "before" || got[1] != "after" {
		t.Fatalf("got %v", got)
	}
}

func TestFaultRefuseLinks(t *testing.T) {
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	if err := peer.RefuseLinks(ctx(t), "amqp:not-allowed"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = peer.AcceptLinks(ctx(t)) }()
	c := sbClient(t)
	s := sender(t, c, q)
	short, cancel := contextWithTimeout(t, 3*time.Second)
	err := s.SendMessage(short, &azservicebus.Message{Body: []byte("refused")}, nil)
	cancel()
	if err == nil {
		t.Fatal("send succeeded while the peer refused links")
	}
	st, err := peer.Stats(ctx(t))
	if err != nil || st.LinksRefused == 0 || !st.RefuseLinks {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if err := peer.AcceptLinks(ctx(t)); err != nil {
		t.Fatal(err)
	}
	send(t, sender(t, c, q), "accepted")
	wantCounts(t, q, amqppeer.Counts{Active: 1, Total: 1})
}

func TestFaultStall(t *testing.T) {
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	s := sender(t, c, q)
	send(t, s, "warm-up")
	if err := peer.Stall(ctx(t)); err != nil {
		t.Fatal(err)
	}
	short, cancel := contextWithTimeout(t, time.Second)
	err := s.SendMessage(short, &azservicebus.Message{Body: []byte("stalled")}, nil)
	cancel()
	if err == nil {
		t.Error("send succeeded while the peer was stalled")
	}
	if err := peer.Unstall(ctx(t)); err != nil {
		t.Fatal(err)
	}
	send(t, s, "after")
	r := queueReceiver(t, c, q, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	got := bodies(receiveN(t, r, 2))
	if got[0] != "warm-up" {
		t.Fatalf("got %v", got)
	}
	// The stalled send may or may not have reached the peer before the client gave up (as with a
	// real network stall); "after" is there either way.
	found := false
	for _, b := range append(got, bodies(drain(t, r))...) {
		found = found || b == "after"
	}
	if !found {
		t.Fatalf("message sent after the stall is missing: %v", got)
	}
}

// drain receives what is left (receive-and-delete receiver) until 300 ms pass without a message.
func drain(t *testing.T, r *azservicebus.Receiver) []*azservicebus.ReceivedMessage {
	t.Helper()
	var out []*azservicebus.ReceivedMessage
	for {
		short, cancel := contextWithTimeout(t, 300*time.Millisecond)
		msgs, err := r.ReceiveMessages(short, 10, nil)
		cancel()
		out = append(out, msgs...)
		if err != nil || len(msgs) == 0 {
			return out
		}
	}
}
