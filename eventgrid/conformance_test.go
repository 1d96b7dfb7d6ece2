package eventgrid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
)

// The conformance suite against the Event Grid trigger, with a simulated Event Grid subscription
// (memconn.Publisher) pushing to the host's webhook: each payload is one event, delivered as Event Grid
// delivers (POST, aeg-event-type: Notification, a JSON array, the system key), retried until
// answered 2xx and dead-lettered after 3 failed invocations.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return harness{} })
}

const conformanceKey = "conformance-eventgrid-key-0123456789"

type harness struct{}

func (harness) Settings() map[string]string {
	return map[string]string{"host.systemKey.eventgrid_extension": conformanceKey}
}

func (harness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		Redelivery:  true, // Event Grid retries a delivery answered with an error
		PoisonAfter: 3,    // the deliverer's max attempts (Event Grid: maxDeliveryAttempts, then dead-letter)
		Metadata:    []string{"data"},
		Batch:       true,
		Push:        true,
		Timeout:     30 * time.Second,
	}
}

func (harness) NewSource(_ context.Context, t *testing.T) conformance.Source {
	// A simulated Event Grid subscription: it delivers each published body until it is answered
	// with a 2xx, retries 5xx (but 503, the drain) and dead-letters after 3 failed invocations.
	d := memconn.NewPublisher(3)
	d.Request = func(ctx context.Context, url string, _ int, body []byte) (*http.Request, error) {
		return eventGridRequest(ctx, url, body)
	}
	t.Cleanup(d.Close)
	return &source{d: d}
}

type source struct{ d *memconn.Publisher }

var (
	_ conformance.PushSource  = (*source)(nil)
	_ conformance.BatchSender = (*source)(nil)
)

func (s *source) Trigger(name string) *driver.BindingSpec { return eventgrid.Trigger(name) }

func webhookURL(baseURL, function string) string {
	return baseURL + "/runtime/webhooks/eventgrid?functionName=" + function
}

func (s *source) Endpoint(baseURL, function string) { s.d.SetTarget(webhookURL(baseURL, function)) }

func (s *source) Request(ctx context.Context, baseURL, function string, p []byte) (*http.Request, error) {
	return eventGridRequest(ctx, webhookURL(baseURL, function), batchBody([][]byte{p}))
}

func (s *source) Send(_ context.Context, p []byte) error {
	s.d.Publish(batchBody([][]byte{p}))
	return nil
}

// SendBatch delivers the events in one request, as Event Grid batches them.
func (s *source) SendBatch(_ context.Context, ps [][]byte) error {
	s.d.Publish(batchBody(ps))
	return nil
}

func (s *source) Pending(context.Context) (int, error) { return s.d.Pending(), nil }

// Poisoned lists the events of the dead-lettered deliveries (a delivery body is an array).
func (s *source) Poisoned(context.Context) ([][]byte, error) {
	var out [][]byte
	for _, body := range s.d.Dead() {
		var events []json.RawMessage
		if err := json.Unmarshal(body, &events); err != nil {
			return nil, fmt.Errorf("dead-lettered body is not an array of events: %w", err)
		}
		for _, e := range events {
			out = append(out, []byte(e))
		}
	}
	return out, nil
}

func batchBody(ps [][]byte) []byte {
	return append(append([]byte("["), bytes.Join(ps, []byte(","))...), ']')
}

func eventGridRequest(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("aeg-event-type", "Notification")
	req.Header.Set("aeg-subscription-name", "CONFORMANCE")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-functions-key", conformanceKey)
	return req, nil
}
