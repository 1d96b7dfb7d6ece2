package cosmos_test

import (
	"context"
	"fmt"
	"os"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/cosmos"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue"
)

type Order struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Total    float64 `json:"total"`
}

type Invoice struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"` // the invoices container's partition key (/customer)
	Amount   float64 `json:"amount"`
}

// A function triggered by the change feed of the orders container: each invocation gets a batch
// of changed documents and writes one invoice per order to another container. The leases live in
// the "leases" container of the same database (created if missing).
func Example() {
	settings := connection.NewSettings(connection.FromMap("example", map[string]string{
		"CosmosDB": "AccountEndpoint=https://myaccount.documents.azure.com:443/;AccountKey=c2VjcmV0;",
	}))
	// The trigger dead-letters failed batches to host storage: AzureWebJobsStorage in production.
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Storage: extension.NewMemoryStorage()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	err = h.Func("Invoice",
		extension.Func(func(ctx context.Context, orders []Order) ([]Invoice, error) {
			out := make([]Invoice, 0, len(orders))
			for _, o := range orders {
				out = append(out, Invoice{ID: "inv-" + o.ID, Customer: o.Customer, Amount: o.Total})
			}
			return out, nil
		}),
		cosmos.Trigger("orders", "shop", "orders", driver.Props{"createLeaseContainerIfNotExists": true, "maxItemsPerInvocation": 50}),
		cosmos.Output("$return", "shop", "invoices", driver.Props{"createIfNotExists": true, "partitionKey": "/customer"}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// Verify builds every binding as Run would, without starting anything.
	fmt.Println(h.Verify(context.Background()))
	// Output: <nil>
}

// A queue-triggered function with a point read by id and partition key from the message, and a query whose {tokens}
// become query parameters (never query text).
func ExampleInput() {
	settings := connection.NewSettings(connection.FromMap("example", map[string]string{
		"CosmosDB":            "AccountEndpoint=https://myaccount.documents.azure.com:443/;AccountKey=c2VjcmV0;",
		"AzureWebJobsStorage": "UseDevelopmentStorage=true",
	}))
	h, _ := extension.NewHost(extension.HostOptions{Settings: settings, Storage: extension.NewMemoryStorage()})
	type Request struct {
		Customer string `json:"customer"`
		OrderID  string `json:"orderId"`
	}
	type params struct {
		Req    Request `azbind:"req"`
		Order  *Order  `azbind:"order"`  // nil when the document does not exist
		Recent []Order `azbind:"recent"` // the query's documents
	}
	err := h.Func("Lookup",
		extension.Action(func(ctx context.Context, p params) error { return nil }),
		queue.Trigger("req", "requests"),
		cosmos.Input("order", "shop", "orders", driver.Props{"id": "{orderId}", "partitionKey": "{customer}"}),
		cosmos.Input("recent", "shop", "orders", driver.Props{
			"sqlQuery":     "SELECT * FROM c WHERE c.customer = {customer} ORDER BY c._ts DESC OFFSET 0 LIMIT 10",
			"partitionKey": "{customer}",
		}),
	)
	fmt.Println(err, h.Verify(context.Background()))
	// Output: <nil> <nil>
}
