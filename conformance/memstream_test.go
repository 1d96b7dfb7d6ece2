package conformance_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
)

// StreamHarness runs the suite against the in-memory partitioned log ("memStreamTrigger"),
// whose checkpoints live in host storage. newHarness makes one per test, holding that test's
// storage: every host of the test uses it, and Pending reads the checkpoints from it.
type StreamHarness struct{ store driver.HostStorage }

var _ conformance.StorageHarness = StreamHarness{}

// TestInMemoryStream proves the ordered, checkpointing and batch tests on the in-memory stream.
func TestInMemoryStream(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness {
		return StreamHarness{store: extension.NewMemoryStorage()}
	})
}

// Settings implements conformance.Harness.
func (StreamHarness) Settings() map[string]string { return map[string]string{} }

// Capabilities implements conformance.Harness. A failed event is not redelivered (Event Hubs):
// it is dead-lettered to host storage before the checkpoint moves, so Redelivery is not declared
// and the poison destination is the dead letters, reached at the first failed delivery.
func (StreamHarness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		Metadata:      []string{"PartitionId", "SequenceNumber", "PartitionKey"},
		Batch:         true,
		MaxBatchSize:  4,
		HostConfig:    map[string]map[string]any{"memory": {"batchSize": 4}},
		OrderedPerKey: true,
		Checkpoints:   true,
		PoisonAfter:   1,
	}
}

// HostStorage implements conformance.StorageHarness.
func (h StreamHarness) HostStorage() driver.HostStorage { return h.store }

// NewSource implements conformance.TriggerHarness.
func (h StreamHarness) NewSource(_ context.Context, t *testing.T) conformance.Source {
	return streamSource{memconn.Default.Stream(fmt.Sprintf("confstream-%d", seq.Add(1))), h.store}
}

type streamSource struct {
	s     *memconn.Stream
	store driver.HostStorage
}

func (s streamSource) Trigger(name string) *driver.BindingSpec {
	return driver.Binding("memStreamTrigger", name, driver.DirIn, driver.Props{"stream": s.s.Name()})
}
func (s streamSource) Send(_ context.Context, p []byte) error { s.s.Send(p); return nil }
func (s streamSource) SendKeyed(_ context.Context, key string, p []byte) error {
	s.s.SendKeyed(key, p)
	return nil
}
func (s streamSource) Pending(ctx context.Context) (int, error) {
	return s.s.Unprocessed(ctx, s.store, "$Default")
}
func (s streamSource) Poisoned(ctx context.Context) ([][]byte, error) {
	return memconn.DeadLetters(ctx, s.store, s.s.Name(), "$Default")
}
