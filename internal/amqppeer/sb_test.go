package amqppeer_test

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/azbind/azbind/internal/amqppeer"
)

func sbClient(t *testing.T) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(peer.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx(t)) })
	return c
}

func TestSBSendReceiveComplete(t *testing.T) {
	t.Parallel()
	q := name(t)
	create(t, amqppeer.Config{Queues: []amqppeer.Queue{{Name: q}}})
	c := sbClient(t)
	s, err := c.NewSender(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMessage(ctx(t), &azservicebus.Message{Body: []byte("hello")}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewReceiverForQueue(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := r.ReceiveMessages(ctx(t), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || string(msgs[0].Body) != "hello" || msgs[0].DeliveryCount != 1 {
		t.Fatalf("got %d msgs; first body %q count %d", len(msgs), msgs[0].Body, msgs[0].DeliveryCount)
	}
	if err := r.CompleteMessage(ctx(t), msgs[0], nil); err != nil {
		t.Fatal(err)
	}
	cn, err := peer.Counts(ctx(t), q)
	if err != nil {
		t.Fatal(err)
	}
	if cn.Total != 0 {
		t.Fatalf("counts after complete: %+v", cn)
	}
	_ = time.Second
}
