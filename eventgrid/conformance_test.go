package eventgrid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension/driver"
)

// The conformance suite against the Event Grid trigger, with a simulated Event Grid subscription
// (deliverer) pushing to the host's webhook: each payload is one event, delivered as Event Grid
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
	d := newDeliverer(3)
	t.Cleanup(d.close)
	return &source{d: d}
}

type source struct{ d *deliverer }

var (
	_ conformance.PushSource  = (*source)(nil)
	_ conformance.BatchSender = (*source)(nil)
)

func (s *source) Trigger(name string) *driver.BindingSpec { return eventgrid.Trigger(name) }

func webhookURL(baseURL, function string) string {
	return baseURL + "/runtime/webhooks/eventgrid?functionName=" + function
}

func (s *source) Endpoint(baseURL, function string) { s.d.setTarget(webhookURL(baseURL, function)) }

func (s *source) Request(ctx context.Context, baseURL, function string, p []byte) (*http.Request, error) {
	return eventGridRequest(ctx, webhookURL(baseURL, function), batchBody([][]byte{p}))
}

func (s *source) Send(_ context.Context, p []byte) error {
	s.d.publish(batchBody([][]byte{p}))
	return nil
}

// SendBatch delivers the events in one request, as Event Grid batches them.
func (s *source) SendBatch(_ context.Context, ps [][]byte) error {
	s.d.publish(batchBody(ps))
	return nil
}

func (s *source) Pending(context.Context) (int, error)       { return s.d.pendingCount(), nil }
func (s *source) Poisoned(context.Context) ([][]byte, error) { return s.d.deadLettered(), nil }

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

// deliverer is a simulated Event Grid subscription: it delivers each published body until it is
// answered with a 2xx. A 5xx other than 503 is a failed delivery; after maxAttempts of them the
// events are dead-lettered. Other answers (503 from a stopping host, 404 before the function
// listens, no host) are retried without counting. Each of the events of a dead-lettered body is
// reported on its own.
type deliverer struct {
	maxAttempts int
	mu          sync.Mutex
	target      string
	changed     chan struct{}
	pending     map[int]bool
	dead        [][]byte
	seq         int
	ctx         context.Context
	stop        context.CancelFunc
	wg          sync.WaitGroup
}

func newDeliverer(maxAttempts int) *deliverer {
	ctx, stop := context.WithCancel(context.Background())
	return &deliverer{maxAttempts: maxAttempts, changed: make(chan struct{}), pending: map[int]bool{}, ctx: ctx, stop: stop}
}

func (d *deliverer) setTarget(url string) {
	d.mu.Lock()
	d.target = url
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

func (d *deliverer) publish(body []byte) {
	d.mu.Lock()
	d.seq++
	id := d.seq
	d.pending[id] = true
	d.mu.Unlock()
	d.wg.Go(func() { d.deliver(id, body) })
}

func (d *deliverer) pendingCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending)
}

func (d *deliverer) deadLettered() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.dead...)
}

func (d *deliverer) close() {
	d.stop()
	d.wg.Wait()
}

func (d *deliverer) deliver(id int, body []byte) {
	failures := 0
	backoff := 5 * time.Millisecond
	for {
		d.mu.Lock()
		target, changed := d.target, d.changed
		d.mu.Unlock()
		code := 0
		if target != "" {
			if req, err := eventGridRequest(d.ctx, target, body); err == nil {
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
			}
		}
		switch {
		case code/100 == 2:
			d.settle(id, nil)
			return
		case code/100 == 5 && code != http.StatusServiceUnavailable:
			if failures++; failures >= d.maxAttempts {
				d.settle(id, body)
				return
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-d.ctx.Done():
			t.Stop()
			return
		case <-changed:
			t.Stop()
			backoff = 5 * time.Millisecond
		case <-t.C:
			backoff = min(2*backoff, 100*time.Millisecond)
		}
	}
}

func (d *deliverer) settle(id int, deadBody []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.pending, id)
	if deadBody != nil {
		var events []json.RawMessage
		if err := json.Unmarshal(deadBody, &events); err == nil {
			for _, e := range events {
				d.dead = append(d.dead, []byte(e))
			}
		}
	}
}
