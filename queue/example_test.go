package queue_test

import (
	"context"
	"fmt"
	"os"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/queue"
)

// A queue-triggered function that writes a message to another queue. The trigger and the output
// use the AzureWebJobsStorage connection; host.json's extensions.queues tunes the polling.
func Example() {
	settings := connection.NewSettings(connection.FromMap("example", map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	type Order struct {
		ID    string `json:"id"`
		Items int    `json:"items"`
	}
	err = h.Func("ProcessOrder",
		extension.Func(func(ctx context.Context, o Order) (string, error) {
			return fmt.Sprintf("order %s: %d items", o.ID, o.Items), nil
		}),
		queue.Trigger("order", "orders"),
		queue.Output("$return", "receipts-{id}"), // {id} is the order's JSON property
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// Verify builds every binding as Run would, without starting anything; h.Run(ctx) polls
	// "orders" until ctx is cancelled.
	fmt.Println(h.Verify(context.Background()))
	// Output: <nil>
}

func ExamplePoisonQueueName() {
	fmt.Println(queue.PoisonQueueName("orders"))
	fmt.Printf("%q\n", queue.PoisonQueueName("orders-poison"))
	// Output:
	// orders-poison
	// ""
}

// A handler that takes the whole message sees its id, dequeue count and times.
func ExampleMessage() {
	handler := extension.Action(func(ctx context.Context, m *queue.Message) error {
		fmt.Printf("message %s, attempt %d: %s\n", m.ID, m.DequeueCount, m.Body)
		return nil
	})
	_ = handler // h.Func("Inspect", handler, queue.Trigger("msg", "orders"))
}
