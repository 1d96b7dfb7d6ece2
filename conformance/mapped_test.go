package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension/driver"
)

// TestInMemoryMapped proves PayloadMapper and BatchTriggerSource: the source wraps every payload
// in an envelope the handler receives, and the harness maps it back.
func TestInMemoryMapped(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return mappedHarness{} })
}

type mappedHarness struct{}

var _ conformance.PayloadMapper = mappedHarness{}

func (mappedHarness) Settings() map[string]string { return Harness{}.Settings() }

func (mappedHarness) Capabilities() conformance.Capabilities {
	c := Harness{}.Capabilities()
	c.HandlerSettlement = false // (SettlingHandler would see the envelope)
	return c
}

func (mappedHarness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	return mappedSource{Harness{}.NewSource(ctx, t).(source)}
}

type envelope struct {
	Kind    string `json:"kind"`
	Payload []byte `json:"payload"` // (base64: any bytes)
}

// Payload implements conformance.PayloadMapper.
func (mappedHarness) Payload(b []byte) ([]byte, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	if env.Kind != "conformance-envelope" {
		return nil, fmt.Errorf("not an envelope: %q", b)
	}
	return env.Payload, nil
}

type mappedSource struct{ source }

func (s mappedSource) Send(ctx context.Context, p []byte) error {
	b, err := json.Marshal(envelope{Kind: "conformance-envelope", Payload: p})
	if err != nil {
		return err
	}
	return s.source.Send(ctx, b)
}

func (s mappedSource) Poisoned(ctx context.Context) ([][]byte, error) {
	got, err := s.source.Poisoned(ctx)
	for i, b := range got {
		if got[i], err = (mappedHarness{}).Payload(b); err != nil {
			return nil, err
		}
	}
	return got, err
}

// TriggerMany implements conformance.BatchTriggerSource.
func (s mappedSource) TriggerMany(name string) *driver.BindingSpec {
	spec := s.Trigger(name)
	spec.Cardinality = "many"
	return spec
}
