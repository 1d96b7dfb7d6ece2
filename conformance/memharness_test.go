package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
)

// Harness runs the conformance suite against the in-memory queue trigger ("memTrigger") and
// output ("mem").
type Harness struct{}

var _ conformance.TriggerHarness = Harness{}
var _ conformance.OutputHarness = Harness{}
var _ conformance.SettlementHarness = Harness{}

var seq atomic.Int64

// Settings implements conformance.Harness.
func (Harness) Settings() map[string]string { return map[string]string{"MemPrefix": "conf"} }

// Capabilities implements conformance.Harness.
func (Harness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		Redelivery:         true,
		PoisonAfter:        3,
		CompetingConsumers: true,
		Metadata:           []string{"Id", "DeliveryCount", "QueueName"},
		HostConfig:         map[string]map[string]any{"memory": {"maxDeliveries": 3}},
		HandlerSettlement:  true,
		Batch:              true,
		MaxBatchSize:       8, // memconn's default batchSize
	}
}

// SettlingHandler implements conformance.SettlementHarness: the handler takes *memconn.Actions,
// which memTrigger offers by type (BindingType.Extras).
func (Harness) SettlingHandler(decide func(context.Context, []byte) conformance.Decision) extension.Handler {
	return extension.Reflect(func(ctx context.Context, b []byte, a *memconn.Actions) error {
		d := decide(ctx, b)
		var err error
		switch d.Settle {
		case conformance.Complete:
			err = a.Complete(ctx)
		case conformance.Abandon:
			err = a.Abandon(ctx)
		case conformance.DeadLetter:
			err = a.DeadLetter(ctx, d.Reason)
		case conformance.Defer:
			err = a.Defer(ctx)
		}
		return errors.Join(err, d.Err)
	})
}

type source struct{ q *memconn.Queue }

// NewSource implements conformance.TriggerHarness.
func (Harness) NewSource(_ context.Context, t *testing.T) conformance.Source {
	return source{memconn.Default.Queue(fmt.Sprintf("confsrc-%d", seq.Add(1)))}
}

func (s source) Trigger(name string) *driver.BindingSpec {
	// The queue name goes through %setting% resolution, as a real trigger's would.
	return driver.Binding("memTrigger", name, driver.DirIn, driver.Props{"queue": "%MemPrefix%" + s.q.Name()[len("conf"):]})
}
func (s source) Send(_ context.Context, p []byte) error     { s.q.Send(p); return nil }
func (s source) Pending(context.Context) (int, error)       { return s.q.Pending(), nil }
func (s source) Poisoned(context.Context) ([][]byte, error) { return s.q.Dead(), nil }
func (s source) Deferred(context.Context) ([][]byte, error) { return s.q.Deferred(), nil }
func (s source) DeadLettered(context.Context) ([]conformance.DeadLettered, error) {
	var out []conformance.DeadLettered
	for _, d := range s.q.DeadLetters() {
		out = append(out, conformance.DeadLettered{Payload: d.Body, Reason: d.Reason})
	}
	return out, nil
}

type destination struct{ q *memconn.Queue }

// NewDestination implements conformance.OutputHarness.
func (Harness) NewDestination(_ context.Context, t *testing.T) conformance.Destination {
	return destination{memconn.Default.Queue(fmt.Sprintf("dst-%d", seq.Add(1)))}
}

func (d destination) Output(name string) *driver.BindingSpec {
	return driver.Binding("mem", name, driver.DirOut, driver.Props{"queue": d.q.Name()})
}
func (d destination) Received(context.Context) ([][]byte, error) { return d.q.Peek(), nil }
