package table_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"encoding/base64"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/emulator"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue"
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
// with a filter. Each is triggered by a queue message (the binding data {queueTrigger} is its
// text); Azurite stands in for the storage account.
func Example() {
	az, err := emulator.LaunchAzurite(nil) // the local Azure Storage emulator
	if err != nil {
		fmt.Println(err)
		return
	}
	defer az.Stop()

	host, _ := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("example", map[string]string{
			"AzureWebJobsStorage": az.ConnectionString, // the default connection of both connectors
			// Poll idle queues often (the default back-off reaches a minute).
			"AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.100",
		})),
		Logger: slog.New(slog.DiscardHandler),
		HostID: "example",
	})
	mem := func(name string) *driver.BindingSpec { return queue.Trigger("msg", name) }

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

	listed := make(chan bool, 1)
	type listOrders struct {
		Customer string  `azbind:"msg"`
		Orders   []Order `azbind:"orders"`
	}
	_ = host.Func("ListOrders",
		extension.Action(func(ctx context.Context, p listOrders) error {
			for _, o := range p.Orders {
				fmt.Println(o.PartitionKey, o.RowKey, o.Item, o.Quantity, o.Placed.Format(time.RFC3339))
			}
			listed <- true
			return nil
		}),
		mem("list"),
		table.Input("orders", "Orders", driver.Props{"partitionKey": "{queueTrigger}", "filter": "Quantity gt 0L"}),
	)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	qs, _ := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	send := func(name, text string) { // as a queue output or `azbind put queue` writes it: base64
		q := qs.NewQueueClient(name)
		_, _ = q.Create(ctx, nil)
		_, _ = q.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte(text)), nil)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if p, err := q.GetProperties(ctx, nil); err == nil && *p.ApproximateMessagesCount == 0 {
				return // taken; the entity written once the invocation succeeds
			}
		}
	}
	send("customers", `Ada`)
	waitEntity(ctx, az.ConnectionString, "Customers", "customers", "c42")
	send("requests", `{"customer":"c42","order":"o1","item":"book","quantity":3}`)
	waitEntity(ctx, az.ConnectionString, "Orders", "c42", "o1")
	send("list", `c42`)
	<-listed
	cancel()
	<-done
	// Output: c42 o1 book 3 2026-01-02T03:04:05Z
}

// waitEntity polls until the entity exists (the function that writes it has succeeded).
func waitEntity(ctx context.Context, connStr, tableName, pk, rk string) {
	svc, _ := aztables.NewServiceClientFromConnectionString(connStr, nil)
	t := svc.NewClient(tableName)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := t.GetEntity(ctx, pk, rk, nil); err == nil {
			return
		}
	}
}
