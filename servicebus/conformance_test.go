package servicebus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// harness runs the conformance suite against the amqp peer. sessions: every source is a
// session-enabled queue (OrderedPerKey), and Send gives each item a session of its own.
type harness struct{ sessions bool }

func (h harness) Settings() map[string]string {
	return map[string]string{"AzureWebJobsServiceBus": peer.ConnectionString}
}

const confMaxDelivery = 3

func (h harness) Capabilities() conformance.Capabilities {
	c := conformance.Capabilities{
		Redelivery:         true,
		PoisonAfter:        confMaxDelivery,
		CompetingConsumers: true,
		Metadata:           []string{"DeliveryCount", "MessageId", "LockToken", "SequenceNumber", "EnqueuedTimeUtc", "ApplicationProperties"},
		HostConfig: map[string]map[string]any{"serviceBus": {
			"maxMessageBatchSize": 8.0,
			"maxBatchWaitTime":    "00:00:01",
			"sessionIdleTimeout":  "00:00:00.5",
			"clientRetryOptions":  map[string]any{"delay": "00:00:00.1", "maxDelay": "00:00:02"},
		}},
		HandlerSettlement: !h.sessions,
		Batch:             !h.sessions,
		MaxBatchSize:      8,
		OrderedPerKey:     h.sessions,
		Timeout:           30 * time.Second,
	}
	return c
}

// SettlingHandler implements conformance.SettlementHarness: the handler takes
// *servicebus.MessageActions, offered by type.
func (h harness) SettlingHandler(decide func(context.Context, []byte) conformance.Decision) extension.Handler {
	return extension.Reflect(func(ctx context.Context, b []byte, a *servicebus.MessageActions) error {
		d := decide(ctx, b)
		var err error
		switch d.Settle {
		case conformance.Complete:
			err = a.Complete(ctx, nil)
		case conformance.Abandon:
			err = a.Abandon(ctx, nil, nil)
		case conformance.DeadLetter:
			err = a.DeadLetter(ctx, nil, &servicebus.DeadLetterOptions{Reason: d.Reason})
		case conformance.Defer:
			err = a.Defer(ctx, nil, nil)
		}
		return errors.Join(err, d.Err)
	})
}

type source struct {
	h    harness
	t    *testing.T
	name string
}

func (h harness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	return source{h: h, t: t, name: newQueue(t, amqppeer.Queue{MaxDeliveryCount: confMaxDelivery, RequiresSession: h.sessions})}
}

func (s source) Trigger(name string) *driver.BindingSpec {
	return servicebus.Trigger(name, s.name, driver.Props{"isSessionsEnabled": s.h.sessions})
}

func (s source) Send(ctx context.Context, payload []byte) error {
	m := &azservicebus.Message{Body: payload}
	if s.h.sessions {
		m.SessionID = to.Ptr("s-" + time.Now().Format("150405.000000000"))
	}
	return s.send(ctx, m)
}

func (s source) SendKeyed(ctx context.Context, key string, payload []byte) error {
	return s.send(ctx, &azservicebus.Message{Body: payload, SessionID: &key})
}

func (s source) send(ctx context.Context, m *azservicebus.Message) error {
	snd, err := sb(s.t).NewSender(s.name, nil)
	if err != nil {
		return err
	}
	defer snd.Close(context.Background())
	return snd.SendMessage(ctx, m, nil)
}

func (s source) Pending(ctx context.Context) (int, error) {
	c, err := peer.Counts(ctx, s.name)
	return c.Active, err
}

func (s source) Poisoned(ctx context.Context) ([][]byte, error) {
	dl, err := peer.DeadLetters(ctx, s.name)
	var out [][]byte
	for _, d := range dl {
		out = append(out, []byte(d.Body))
	}
	return out, err
}

func (s source) DeadLettered(ctx context.Context) ([]conformance.DeadLettered, error) {
	dl, err := peer.DeadLetters(ctx, s.name)
	var out []conformance.DeadLettered
	for _, d := range dl {
		out = append(out, conformance.DeadLettered{Payload: []byte(d.Body), Reason: d.Reason})
	}
	return out, err
}

// Deferred peeks at the queue and keeps the deferred messages.
func (s source) Deferred(ctx context.Context) ([][]byte, error) {
	r, err := sb(s.t).NewReceiverForQueue(s.name, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close(context.Background())
	msgs, err := r.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: to.Ptr(int64(0))})
	var out [][]byte
	for _, m := range msgs {
		if m.State == azservicebus.MessageStateDeferred {
			out = append(out, m.Body)
		}
	}
	return out, err
}

type destination struct {
	t    *testing.T
	name string
}

func (h harness) NewDestination(ctx context.Context, t *testing.T) conformance.Destination {
	return destination{t: t, name: newQueue(t, amqppeer.Queue{})}
}

func (d destination) Output(name string) *driver.BindingSpec { return servicebus.Output(name, d.name) }

// Received peeks at every message sent so far.
func (d destination) Received(ctx context.Context) ([][]byte, error) {
	r, err := sb(d.t).NewReceiverForQueue(d.name, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close(context.Background())
	var out [][]byte
	var from int64
	for {
		msgs, err := r.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			return out, nil
		}
		for _, m := range msgs {
			out = append(out, m.Body)
			from = max(from, *m.SequenceNumber+1)
		}
	}
}

// sessionHarness is the trigger side of harness{sessions: true} only (the output tests run once).
type sessionHarness struct{ h harness }

func (s sessionHarness) Settings() map[string]string            { return s.h.Settings() }
func (s sessionHarness) Capabilities() conformance.Capabilities { return s.h.Capabilities() }
func (s sessionHarness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	return s.h.NewSource(ctx, t)
}

// Not parallel (nor TestConformanceSessions): the kit's Lifecycle test sees every goroutine.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return harness{} })
}

func TestConformanceSessions(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return sessionHarness{harness{sessions: true}} })
}
