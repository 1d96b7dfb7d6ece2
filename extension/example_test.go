package extension_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/emulator"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/queue"
)

// A function declared through the Go API: a queue trigger, its payload decoded from JSON, and
// the return value written to an output whose name uses a %setting% and trigger data. Azurite
// stands in for the storage account.
func Example() {
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer az.Stop()
	type order struct {
		ID   string `json:"id"`
		Item string `json:"item"`
	}
	host, _ := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("example", map[string]string{
			"AzureWebJobsStorage": az.ConnectionString,
			"Shipping":            "ship",
			"AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.100",
		})),
		Logger: slog.New(slog.DiscardHandler),
	})
	_ = host.Func("ShipOrder",
		extension.Func(func(ctx context.Context, o order) (string, error) {
			return strings.ToUpper(o.Item), nil
		}),
		queue.Trigger("order", "example-orders"),
		queue.Output("$return", "%Shipping%-{item}"),
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- host.Run(ctx) }()

	qs, _ := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	in := qs.NewQueueClient("example-orders")
	_, _ = in.Create(ctx, nil)
	_, _ = in.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte(`{"id":"42","item":"book"}`)), nil)
	out := qs.NewQueueClient("ship-book")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r, err := out.PeekMessages(ctx, nil); err == nil && len(r.Messages) == 1 {
			text, _ := base64.StdEncoding.DecodeString(*r.Messages[0].MessageText)
			fmt.Printf("%s\n", text)
			break
		}
	}
	cancel()
	<-done
	// Output: BOOK
}
