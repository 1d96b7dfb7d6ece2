package eventhubs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension/driver"
)

// harness runs the conformance suite against the amqp-peer, with checkpoints and dead letters
// on Azurite (AzureWebJobsStorage).
type harness struct{ t *testing.T }

func (h harness) Settings() map[string]string {
	return map[string]string{"AzureWebJobsStorage": azurite.ConnectionString, "EventHubConn": peer.ConnectionString}
}

// singleMetadata are the binding-data names of a single-dispatch event.
var singleMetadata = []string{"PartitionContext", "PartitionKey", "Offset", "SequenceNumber", "EnqueuedTimeUtc", "Properties", "SystemProperties"}

func (h harness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		// A failed event is not redelivered: it is dead-lettered (the "poison" destination) after
		// the retry policy, at its first failed delivery, and the partition moves on.
		Redelivery:    false,
		PoisonAfter:   1,
		Metadata:      singleMetadata,
		Batch:         true,
		MaxBatchSize:  5,
		OrderedPerKey: true,
		// Not CompetingConsumers: the kit checks exactly once while a second host joins, and
		// while the Processor moves a partition, events after its last checkpoint are delivered
		// again (at-least-once, as in Functions). TestTwoHostsShareFourPartitionsExactlyOnce
		// checks exactly once across two balanced hosts instead.
		Checkpoints: true,
		HostConfig:  map[string]map[string]any{"eventHubs": fastLB(map[string]any{"maxEventBatchSize": 5})},
		Timeout:     60 * time.Second,
	}
}

type source struct {
	h   harness
	t   *testing.T
	hub string
}

func (h harness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	return &source{h: h, t: t, hub: newHub(t, 2)}
}

func (s *source) Trigger(name string) *driver.BindingSpec {
	return eventhubs.Trigger(name, s.hub, map[string]any{"connection": "EventHubConn"})
}

func (s *source) Send(ctx context.Context, payload []byte) error {
	return s.send(ctx, nil, payload)
}

func (s *source) SendKeyed(ctx context.Context, key string, payload []byte) error {
	return s.send(ctx, to.Ptr(key), payload)
}

// send sends with a producer of its own, closed at once: the kit's Lifecycle test counts the
// goroutines the harness leaves running too.
func (s *source) send(ctx context.Context, key *string, payload []byte) error {
	p, err := azeventhubs.NewProducerClientFromConnectionString(peer.ConnectionString, s.hub, nil)
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	return eventhubs.Send(ctx, p, key, []*azeventhubs.EventData{{Body: payload}})
}

// Pending is the number of events after each partition's checkpoint.
func (s *source) Pending(ctx context.Context) (int, error) {
	p := producerFor(s.t, s.hub)
	n := 0
	for _, pid := range []string{"0", "1"} {
		pp, err := p.GetPartitionProperties(ctx, pid, nil)
		if err != nil {
			return 0, err
		}
		if pp.IsEmpty {
			continue
		}
		cp := checkpointSeq(s.t, s.hub, "$Default", pid)
		n += int(pp.LastEnqueuedSequenceNumber - cp)
	}
	return n, nil
}

// Poisoned returns the bodies of the dead-lettered events of this hub.
func (s *source) Poisoned(ctx context.Context) ([][]byte, error) {
	hs := hostStorage(s.t)
	keys, err := eventhubs.ListDeadLetters(ctx, hs, "", "")
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, k := range keys {
		dl, err := eventhubs.ReadDeadLetter(ctx, hs, k)
		if err != nil {
			return nil, err
		}
		if dl.Source.Entity != s.hub {
			continue
		}
		for _, e := range dl.Events {
			out = append(out, e.Body)
		}
	}
	return out, nil
}

// destination reads its hub with one consumer whose partition links stay open across calls and
// keeps what it read: on a busy machine a fresh reader per call may not even attach its links
// within one call's window, and a later call must never return less than an earlier one.
type destination struct {
	t   *testing.T
	hub string

	mu   sync.Mutex
	pcs  []*azeventhubs.PartitionClient
	seen [][]byte
}

func (h harness) NewDestination(ctx context.Context, t *testing.T) conformance.Destination {
	d := &destination{t: t, hub: newHub(t, 2)}
	c, err := azeventhubs.NewConsumerClientFromConnectionString(peer.ConnectionString, d.hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	for _, pid := range []string{"0", "1"} {
		pc, err := c.NewPartitionClient(pid, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close(context.Background()) })
		d.pcs = append(d.pcs, pc)
	}
	return d
}

func (d *destination) Output(name string) *driver.BindingSpec {
	return eventhubs.Output(name, d.hub, map[string]any{"connection": "EventHubConn"})
}

func (d *destination) Received(ctx context.Context) ([][]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, pc := range d.pcs {
		for {
			rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			evs, _ := pc.ReceiveEvents(rctx, 100, nil)
			cancel()
			for _, e := range evs {
				d.seen = append(d.seen, e.Body)
			}
			if len(evs) == 0 {
				break
			}
		}
	}
	return append([][]byte(nil), d.seen...), nil
}

// IgnoredGoroutines implements conformance.GoroutineIgnorer. azeventhubs v2.0.2:
// ConsumerClient.Close closes the namespace but not its $management links (ProducerClient.Close
// does), so the token renewer of the management link the Processor used stays until its next
// refresh (minutes later), finds the client closed and ends. It opens nothing: an SDK bug,
// outside this connector.
func (harness) IgnoredGoroutines() []string {
	return []string{"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/internal.(*Namespace).startNegotiateClaimRenewer.func3"}
}

var _ conformance.GoroutineIgnorer = harness{}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return harness{t: t} })
}
