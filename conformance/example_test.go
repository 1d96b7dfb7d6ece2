package conformance_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/emulator"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue"
)

// queueHarness runs the suite on the queue connector against Azurite: a Storage queue per test.
type queueHarness struct {
	az *emulator.Azurite
	qs *azqueue.ServiceClient
}

func (h *queueHarness) Settings() map[string]string {
	return map[string]string{"AzureWebJobsStorage": h.az.ConnectionString}
}

func (h *queueHarness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		Redelivery: true, PoisonAfter: 3, CompetingConsumers: true,
		Metadata: []string{"DequeueCount", "Id"},
		HostConfig: map[string]map[string]any{"queues": {
			"maxDequeueCount": 3, "maxPollingInterval": "00:00:00.100", "visibilityTimeout": "00:00:00.500"}},
	}
}

func (h *queueHarness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	q := h.qs.NewQueueClient(name)
	if _, err := q.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return &queueSource{name: name, q: q, poison: h.qs.NewQueueClient(name + "-poison")}
}

type queueSource struct {
	name      string
	q, poison *azqueue.QueueClient
}

func (s *queueSource) Trigger(name string) *driver.BindingSpec { return queue.Trigger(name, s.name) }

func (s *queueSource) Send(ctx context.Context, payload []byte) error {
	_, err := s.q.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString(payload), nil)
	return err
}

func (s *queueSource) Pending(ctx context.Context) (int, error) {
	p, err := s.q.GetProperties(ctx, nil)
	if err != nil {
		return 0, err
	}
	return int(*p.ApproximateMessagesCount), nil
}

func (s *queueSource) Poisoned(ctx context.Context) ([][]byte, error) {
	n := int32(32)
	r, err := s.poison.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
	if err != nil {
		return nil, nil // no poison queue yet: nothing poisoned
	}
	var out [][]byte
	for _, m := range r.Messages {
		b, err := base64.StdEncoding.DecodeString(*m.MessageText)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// testQueueConformance is what a connector's conformance_test.go holds (as TestConformance): the
// suite run against a real service or emulator, one fresh harness per test.
func testQueueConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness {
		az := emulator.StartAzurite(t, nil)
		qs, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &queueHarness{az: az, qs: qs}
	})
}

// A harness for a trigger connector (here the queue connector on Azurite) and the test that runs
// the suite with it; the Capabilities gate the tests the service supports.
func ExampleRun() {
	var _ conformance.TriggerHarness = (*queueHarness)(nil)
	fmt.Println("func TestConformance(t *testing.T) { testQueueConformance(t) }")
	_ = testQueueConformance
	// Output: func TestConformance(t *testing.T) { testQueueConformance(t) }
}
