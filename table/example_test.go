package table_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/memconn"
	"github.com/azbind/azbind/table"
)

// Order is the entity the example writes; its keys come from the binding.
type Order struct {
	PartitionKey string
	RowKey       string
	Item         string
	Quantity     int64 // Edm.Int64
	Placed       time.Time
}

// Table bindings in functions: SaveCustomer writes an entity, PlaceOrder reads the customer
// named by its JSON payload ({customer}) and upserts an order, ListOrders queries a partition
// with a filter. (The example's trigger is azbind's in-memory test trigger, whose payload is the
// binding data {memTrigger}; with a queue trigger it would be {queueTrigger}.)
func Example() {
	az, err := emulator.LaunchAzurite(nil) // the local Azure Storage emulator
	if err != nil {
		fmt.Println(err)
		return
	}
	defer az.Stop()

	host, _ := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("example", map[string]string{
			"AzureWebJobsStorage": az.ConnectionString, // the table binding's default connection
		})),
		Logger: slog.New(slog.DiscardHandler),
		HostID: "example",
	})
	mem := func(queue string) *driver.BindingSpec {
		return driver.Binding("memTrigger", "msg", driver.DirIn, driver.Props{"queue": queue})
	}

	_ = host.Func("SaveCustomer",
		extension.Func(func(ctx context.Context, name string) (map[string]any, error) {
			return map[string]any{"Name": name}, nil
		}),
		mem("customers"),
		table.Output("$return", "Customers", driver.Props{"partitionKey": "customers", "rowKey": "c42"}),
	)

	type request struct {
		Customer string `json:"customer"`
		Order    string `json:"order"`
		Item     string `json:"item"`
		Quantity int64  `json:"quantity"`
	}
	type placeOrder struct {
		Request  request        `azbind:"msg"`
		Customer map[string]any `azbind:"customer"` // nil when there is no such customer
	}
	_ = host.Func("PlaceOrder",
		extension.Func(func(ctx context.Context, p placeOrder) (*Order, error) {
			if p.Customer == nil {
				return nil, fmt.Errorf("no customer %q", p.Request.Customer)
			}
			return &Order{Item: p.Request.Item, Quantity: p.Request.Quantity,
				Placed: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, nil
		}),
		mem("requests"),
		table.Input("customer", "Customers", driver.Props{"partitionKey": "customers", "rowKey": "{customer}"}),
		table.Output("$return", "Orders", driver.Props{"partitionKey": "{customer}", "rowKey": "{order}", "mode": "upsert"}),
	)

	type listOrders struct {
		Customer string  `azbind:"msg"`
		Orders   []Order `azbind:"orders"`
	}
	_ = host.Func("ListOrders",
		extension.Action(func(ctx context.Context, p listOrders) error {
			for _, o := range p.Orders {
				fmt.Println(o.PartitionKey, o.RowKey, o.Item, o.Quantity, o.Placed.Format(time.RFC3339))
			}
			return nil
		}),
		mem("list"),
		table.Input("orders", "Orders", driver.Props{"partitionKey": "{memTrigger}", "filter": "Quantity gt 0L"}),
	)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	send("customers", `Ada`)
	send("requests", `{"customer":"c42","order":"o1","item":"book","quantity":3}`)
	send("list", `c42`)
	cancel()
	<-done
	// Output: c42 o1 book 3 2026-01-02T03:04:05Z
}

// send delivers one message to an in-memory queue and waits until it has been processed.
func send(queue, msg string) {
	q := memconn.Default.Queue(queue)
	n := len(q.Acked()) + len(q.Dead())
	q.Send([]byte(msg))
	for deadline := time.Now().Add(30 * time.Second); len(q.Acked())+len(q.Dead()) == n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}
