package queue_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/queue/queuetest"
)

// harness runs the conformance suite against Azure Queue Storage (Azurite).
type harness struct{ env *queuetest.Env }

func (h harness) Settings() map[string]string {
	return map[string]string{"AzureWebJobsStorage": h.env.ConnectionString}
}

func (h harness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		Redelivery:         true,
		PoisonAfter:        3,
		CompetingConsumers: true,
		Metadata:           queue.MetadataNames,
		HostConfig: map[string]map[string]any{"queues": {
			"maxDequeueCount":    3.0,
			"maxPollingInterval": "00:00:00.2",
		}},
		Timeout: 60 * time.Second,
	}
}

type source struct {
	h    harness
	t    *testing.T
	name string
}

func (h harness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	return source{h: h, t: t, name: h.env.NewQueue(t)}
}

func (s source) Trigger(name string) *driver.BindingSpec { return queue.Trigger(name, s.name) }

func (s source) Send(ctx context.Context, payload []byte) error {
	_, err := s.h.env.Queue(s.name).EnqueueMessage(ctx, base64.StdEncoding.EncodeToString(payload), nil)
	return err
}

func (s source) Pending(ctx context.Context) (int, error) { return s.h.env.Count(s.t, s.name), nil }

func (s source) Poisoned(ctx context.Context) ([][]byte, error) {
	var out [][]byte
	for _, text := range s.h.env.Poison(s.t, s.name) {
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

type destination struct {
	h    harness
	t    *testing.T
	name string
}

func (h harness) NewDestination(ctx context.Context, t *testing.T) conformance.Destination {
	name := h.env.QueueName(t) // created on demand by the output binding
	h.env.Cleanup(t, name)
	return destination{h: h, t: t, name: name}
}

func (d destination) Output(name string) *driver.BindingSpec { return queue.Output(name, d.name) }

func (d destination) Received(ctx context.Context) ([][]byte, error) {
	var out [][]byte
	for _, text := range d.h.env.Peek(d.t, d.name) {
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return harness{env: queue.SharedEnv()} })
}
