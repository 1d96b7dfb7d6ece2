// Command orders is azbind's demo: a small order pipeline on Azure Queue Storage, run against a
// local Azurite that the program starts and stops itself.
//
//	go run ./examples/orders      (or scripts/demo)
//
// Two functions, declared the two ways azbind supports:
//
//   - ProcessOrder is declared by an Azure Functions app folder (app/ProcessOrder/function.json,
//     app/host.json, app/local.settings.json) and gets its Go handler with Host.Handle. It is
//     triggered by the "orders" queue (%OrdersQueue%) and returns a shipment, which its `$return`
//     queue output writes to "shipments". An order with no items fails; after maxDequeueCount (3)
//     attempts it moves to "orders-poison".
//   - NotifyCustomer is declared with the Go API (Host.Func). It is triggered by "shipments", reads
//     the customer's profile from the "Customers" table (input binding, row key {customer} from the
//     shipment's JSON payload; a customer without a profile gets nil), writes a notification to the
//     "notifications-{region}" queue and upserts the order's status into the "OrderStatus" table
//     (partition {region}, row {orderId}).
//
// The program enqueues a few orders, waits until every one has been notified or poisoned (bounded
// by a timeout), stops the host gracefully, stops Azurite and exits 0.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/table"
)

// Order is what a shop puts on the orders queue.
type Order struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Region   string `json:"region"`
	Items    int    `json:"items"`
}

// Shipment is what ProcessOrder produces.
type Shipment struct {
	OrderID  string `json:"orderId"`
	Customer string `json:"customer"`
	Region   string `json:"region"`
	Parcels  int    `json:"parcels"`
}

// Customer is a row of the Customers table (partition "customers", row key = customer id).
type Customer struct {
	RowKey string
	Name   string
}

// OrderStatus is a row of the OrderStatus table; its keys come from the binding.
type OrderStatus struct {
	Status   string
	Parcels  int
	Notified time.Time
}

// notifyIn and notifyOut are NotifyCustomer's bindings, by name.
type notifyIn struct {
	Shipment Shipment  `azbind:"shipment"`
	Customer *Customer `azbind:"customer"`
}

type notifyOut struct {
	Notification string      `azbind:"notification"`
	Status       OrderStatus `azbind:"status"`
}

var customers = []Customer{{RowKey: "ada", Name: "Ada Lovelace"}, {RowKey: "grace", Name: "Grace Hopper"}, {RowKey: "linus", Name: "Linus Torvalds"}}

var orders = []Order{
	{ID: "o-1001", Customer: "ada", Region: "eu", Items: 3},
	{ID: "o-1002", Customer: "grace", Region: "us", Items: 1},
	{ID: "o-1003", Customer: "linus", Region: "eu", Items: 7},
	{ID: "o-1004", Customer: "barbara", Region: "us", Items: 0}, // invalid: ends in orders-poison
	{ID: "o-1005", Customer: "ken", Region: "eu", Items: 2},
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log); err != nil {
		log.Error("demo failed", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	appDir, err := findAppDir()
	if err != nil {
		return err
	}

	log.Info("starting Azurite")
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		return err
	}
	defer func() {
		az.Stop()
		log.Info("Azurite stopped")
	}()

	// Settings: the demo's own values first, then the environment, then the app folder's
	// local.settings.json.
	local, err := connection.LoadLocalSettings(filepath.Join(appDir, "local.settings.json"))
	if err != nil {
		return err
	}
	settings := connection.NewSettings(
		connection.FromMap("demo", map[string]string{"AzureWebJobsStorage": az.ConnectionString}),
		connection.FromEnviron(os.Environ()),
		local,
	)

	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: log, ShutdownTimeout: 10 * time.Second})
	if err != nil {
		return err
	}

	// Declared by app/ProcessOrder/function.json.
	if err := h.LoadAppDir(appDir); err != nil {
		return err
	}
	h.Handle("ProcessOrder", extension.Func(func(ctx context.Context, o Order) (Shipment, error) {
		fc := extension.FromContext(ctx)
		dq, _ := fc.Metadata.Lookup("DequeueCount")
		if o.Items <= 0 {
			return Shipment{}, fmt.Errorf("order %s has no items", o.ID)
		}
		fc.Logger().Info("order processed", "order", o.ID, "customer", o.Customer, "dequeue_count", dq)
		return Shipment{OrderID: o.ID, Customer: o.Customer, Region: o.Region, Parcels: (o.Items + 2) / 3}, nil
	}))

	// Declared with the Go API.
	err = h.Func("NotifyCustomer", extension.Func(func(ctx context.Context, in notifyIn) (notifyOut, error) {
		s := in.Shipment
		name := s.Customer // no profile in the Customers table: the input binding gives nil
		if in.Customer != nil {
			name = in.Customer.Name
		}
		extension.FromContext(ctx).Logger().Info("customer notified", "order", s.OrderID, "customer", name, "parcels", s.Parcels)
		return notifyOut{
			Notification: fmt.Sprintf("Dear %s, your order %s ships in %d parcel(s).", name, s.OrderID, s.Parcels),
			Status:       OrderStatus{Status: "notified", Parcels: s.Parcels, Notified: time.Now().UTC()},
		}, nil
	}),
		queue.Trigger("shipment", "shipments"),
		table.Input("customer", "Customers", driver.Props{"partitionKey": "customers", "rowKey": "{customer}"}),
		queue.Output("notification", "notifications-{region}"),
		table.Output("status", "OrderStatus", driver.Props{"partitionKey": "{region}", "rowKey": "{orderId}", "mode": "upsert"}),
	)
	if err != nil {
		return err
	}

	tables, err := aztables.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		return err
	}
	if err := seedCustomers(context.Background(), tables, log); err != nil {
		return err
	}

	svc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := enqueueOrders(ctx, svc, log); err != nil {
		return err
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- h.Run(runCtx) }()

	good := 0
	for _, o := range orders {
		if o.Items > 0 {
			good++
		}
	}
	waitErr := waitUntil(ctx, 90*time.Second, runErr, func() (bool, error) {
		n, err := count(ctx, svc, "notifications-eu", "notifications-us")
		if err != nil {
			return false, err
		}
		p, err := count(ctx, svc, "orders-poison")
		return n == good && p == len(orders)-good, err
	})
	stop()
	if err := <-runErr; err != nil {
		return errors.Join(waitErr, err)
	}
	if waitErr != nil {
		return waitErr
	}
	return report(ctx, svc, tables, log)
}

func seedCustomers(ctx context.Context, tables *aztables.ServiceClient, log *slog.Logger) error {
	if _, err := tables.CreateTable(ctx, "Customers", nil); err != nil {
		return err
	}
	t := tables.NewClient("Customers")
	for _, c := range customers {
		b, _ := json.Marshal(map[string]string{"PartitionKey": "customers", "RowKey": c.RowKey, "Name": c.Name})
		if _, err := t.AddEntity(ctx, b, nil); err != nil {
			return err
		}
	}
	log.Info("customers table seeded", "table", "Customers", "customers", len(customers))
	return nil
}

func enqueueOrders(ctx context.Context, svc *azqueue.ServiceClient, log *slog.Logger) error {
	if _, err := svc.CreateQueue(ctx, "orders", nil); err != nil {
		return err
	}
	q := svc.NewQueueClient("orders")
	for _, o := range orders {
		b, _ := json.Marshal(o)
		if _, err := q.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString(b), nil); err != nil {
			return err
		}
		log.Info("order enqueued", "queue", "orders", "order", o.ID, "items", o.Items)
	}
	return nil
}

// count sums the message counts of queues (a missing queue counts 0).
func count(ctx context.Context, svc *azqueue.ServiceClient, names ...string) (int, error) {
	total := 0
	for _, name := range names {
		resp, err := svc.NewQueueClient(name).GetProperties(ctx, nil)
		if err != nil {
			if queueerror.HasCode(err, queueerror.QueueNotFound) {
				continue
			}
			return 0, err
		}
		if resp.ApproximateMessagesCount != nil {
			total += int(*resp.ApproximateMessagesCount)
		}
	}
	return total, nil
}

// waitUntil polls cond every 200 ms until it holds, the host stops, or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, runErr chan error, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("orders not all processed within %s", timeout)
		}
		select {
		case err := <-runErr:
			runErr <- err
			return fmt.Errorf("host stopped early: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func report(ctx context.Context, svc *azqueue.ServiceClient, tables *aztables.ServiceClient, log *slog.Logger) error {
	for _, name := range []string{"notifications-eu", "notifications-us", "orders-poison"} {
		resp, err := svc.NewQueueClient(name).PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: ptr(int32(32))})
		if err != nil {
			return err
		}
		for _, m := range resp.Messages {
			b, err := base64.StdEncoding.DecodeString(*m.MessageText)
			if err != nil {
				return err
			}
			log.Info("result", "queue", name, "message", string(b))
		}
	}
	pager := tables.NewClient("OrderStatus").NewListEntitiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, e := range page.Entities {
			var st aztables.EDMEntity // understands the Edm.Int64 the binding wrote for Parcels
			if err := json.Unmarshal(e, &st); err != nil {
				return err
			}
			log.Info("result", "table", "OrderStatus", "region", st.PartitionKey, "order", st.RowKey, "status", st.Properties["Status"], "parcels", st.Properties["Parcels"])
		}
	}
	log.Info("all orders handled; done")
	return nil
}

// findAppDir locates examples/orders/app from the working directory or this source file.
func findAppDir() (string, error) {
	candidates := []string{filepath.Join("examples", "orders", "app"), "app"}
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "app"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(filepath.Join(c, "host.json")); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("app folder not found (looked in %v): run from the repository root with `go run ./examples/orders`", candidates)
}

func ptr[T any](v T) *T { return &v }
