package eventhubs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"go.uber.org/goleak"

	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
)

// A host with an eventHubTrigger and an eventHub output, started and stopped, leaves no goroutine
// (AMQP connections, partition workers, the Processor) and no shared value behind.
func TestHostLeavesNothingBehind(t *testing.T) { // not parallel: goleak sees the whole process
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		// azeventhubs v2.0.2: ConsumerClient.Close closes the namespace but not its $management
		// links (ProducerClient.Close does), so the token renewer of the management link the
		// Processor used stays until its next refresh (minutes later), finds the client closed and
		// ends. It opens nothing: an SDK bug, outside this connector.
		goleak.IgnoreAnyFunction("github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/internal.(*Namespace).startNegotiateClaimRenewer.func3"),
	}
	in, out := newHub(t, 2), newHub(t, 1)
	for i := range 2 {
		th := startHost(t, hostOpts{hostID: "ehleak"}, func(h *extension.Host) error {
			return h.Func("Forward", extension.Func(func(ctx context.Context, body string) (string, error) { return "fwd-" + body, nil }),
				eventhubs.Trigger("body", in, map[string]any{"connection": "EventHubConn"}),
				eventhubs.Output("$return", out, map[string]any{"connection": "EventHubConn"}))
		})
		p, err := azeventhubs.NewProducerClientFromConnectionString(peer.ConnectionString, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = eventhubs.Send(tctx(t), p, nil, []*azeventhubs.EventData{{Body: []byte(fmt.Sprint("x", i))}})
		p.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, out, i+1, 20*time.Second); len(got) != i+1 {
			t.Fatalf("round %d: %d forwarded events", i, len(got))
		}
		if err := th.stop(); err != nil {
			t.Fatal(err)
		}
		if n := th.h.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
	}
	if err := goleak.Find(opts...); err != nil {
		t.Fatal(err)
	}
}
