package conformance_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
)

// PushHarness runs the suite against the in-memory pushed trigger ("memPushTrigger"); each
// source is a memconn.Publisher, the simulated service that pushes.
type PushHarness struct{}

// TestInMemoryPush proves the push test, and the general tests, on a pushed trigger.
func TestInMemoryPush(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return PushHarness{} })
}

// pushKey is the memory_extension system key the harness's hosts get from their settings.
const pushKey = "push-test-system-key-0123456789"

// Settings implements conformance.Harness.
func (PushHarness) Settings() map[string]string {
	return map[string]string{"host.systemKey." + memconn.PushKeyName: pushKey}
}

// Capabilities implements conformance.Harness.
func (PushHarness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		Redelivery:  true,
		PoisonAfter: 3, // the publisher's MaxAttempts
		Metadata:    []string{"Id"},
		Batch:       true,
		Push:        true,
	}
}

// NewSource implements conformance.TriggerHarness.
func (PushHarness) NewSource(_ context.Context, t *testing.T) conformance.Source {
	p := memconn.NewPublisher(3)
	t.Cleanup(p.Close)
	return &pushSource{p: p}
}

type pushSource struct{ p *memconn.Publisher }

var _ conformance.PushSource = (*pushSource)(nil)
var _ conformance.BatchSender = (*pushSource)(nil)

func (s *pushSource) Trigger(name string) *driver.BindingSpec {
	return driver.Binding("memPushTrigger", name, driver.DirIn, nil)
}
func (s *pushSource) Endpoint(baseURL, function string) {
	s.p.SetTarget(memconn.PushURL(baseURL, function, pushKey))
}
func (s *pushSource) Request(ctx context.Context, baseURL, function string, p []byte) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodPost, memconn.PushURL(baseURL, function, pushKey), bytes.NewReader(p))
}
func (s *pushSource) Send(_ context.Context, p []byte) error { s.p.Publish(p); return nil }

// SendBatch implements conformance.BatchSender: one push of a JSON array.
func (s *pushSource) SendBatch(_ context.Context, ps [][]byte) error {
	s.p.Publish(append(append([]byte("["), bytes.Join(ps, []byte(","))...), ']'))
	return nil
}
func (s *pushSource) Pending(context.Context) (int, error)       { return s.p.Pending(), nil }
func (s *pushSource) Poisoned(context.Context) ([][]byte, error) { return s.p.Dead(), nil }
