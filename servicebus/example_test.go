package servicebus_test

import (
	"context"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/servicebus"
)

// A queue-triggered function that dead-letters orders without items and forwards the others to a
// topic, keyed by customer. The connection defaults to AzureWebJobsServiceBus.
func Example() {
	settings := connection.NewSettings(connection.FromMap("example", map[string]string{
		"AzureWebJobsServiceBus": "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a2V5",
	}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	type Order struct {
		ID       string `json:"id"`
		Customer string `json:"customer"`
		Items    int    `json:"items"`
	}
	err = h.Func("RouteOrder",
		extension.Reflect(func(ctx context.Context, o Order, actions *servicebus.MessageActions) (*azservicebus.Message, error) {
			if o.Items == 0 {
				// Settled by the handler: the trigger does not complete it afterwards.
				return nil, actions.DeadLetter(ctx, nil, &servicebus.DeadLetterOptions{Reason: "EmptyOrder", Description: "order " + o.ID + " has no items"})
			}
			return &azservicebus.Message{Body: []byte(o.ID), SessionID: to.Ptr(o.Customer)}, nil
		}),
		servicebus.Trigger("order", "orders"),
		servicebus.TopicOutput("$return", "routed-orders"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// Verify builds every binding as Run would, without connecting; h.Run(ctx) receives from
	// "orders" until ctx is cancelled.
	fmt.Println(h.Verify(context.Background()))
	// Output: <nil>
}

// A session handler keeps a running total in the session state; the session's messages arrive
// one at a time, in order.
func ExampleSessionActions() {
	handler := extension.Reflect(func(ctx context.Context, amount []byte, s *servicebus.SessionActions) error {
		state, err := s.State(ctx)
		if err != nil {
			return err
		}
		return s.SetState(ctx, append(state, amount...))
	})
	_ = handler // h.Func("Totals", handler, servicebus.Trigger("amount", "payments", extension.Props{"isSessionsEnabled": true}))
}
