package queue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/queue/queuetest"
)

// Queue names in bindings are lower-cased as WebJobs does (QueueTriggerAttributeBindingProvider,
// QueuesExtensionConfigProvider: "must be lowercase. coerce here to be nice"): a trigger on
// "ORDERS" reads "orders", and the README's queue.Output("$return", "shipped-{ID}") writes an
// order with ID "A1" to shipped-a1 instead of failing on an invalid name.
func TestQueueNamesLowerCased(t *testing.T) {
	env := queue.SharedEnv()
	in := env.NewQueue(t)
	outName := in + "-a1"
	env.Cleanup(t, outName)
	startHost(t, nil, nil, func(h *extension.Host) error {
		return h.Func("Ship", extension.Func(func(ctx context.Context, o struct{ ID string }) (string, error) {
			return "shipped " + o.ID, nil
		}), queue.Trigger("order", strings.ToUpper(in)), queue.Output("$return", strings.ToUpper(in)+"-{ID}"))
	})
	env.Send(t, in, []byte(`{"ID":"A1"}`))
	queuetest.WaitFor(t, 30*time.Second, "a message in "+outName, func() bool {
		got := env.PeekDecoded(t, outName)
		return len(got) == 1 && got[0] == "shipped A1"
	})
}
