package eventhubs_test

import (
	"context"
	"fmt"
	"os"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
)

// A batch-triggered function that forwards every reading above a threshold to another hub, keyed
// by device. Checkpoints and ownership go to AzureWebJobsStorage; failed batches are dead-lettered
// in host storage instead of being skipped.
func Example() {
	settings := connection.NewSettings(connection.FromMap("example", map[string]string{
		"AzureWebJobsStorage": "UseDevelopmentStorage=true",
		"Telemetry":           "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=bm90LWEta2V5",
	}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, HostConfig: &extension.HostConfig{Version: "2.0",
		Extensions: map[string]map[string]any{"eventHubs": {"maxEventBatchSize": 50, "initialOffsetOptions": map[string]any{"type": "fromEnd"}}}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	type Reading struct {
		Device string  `json:"device"`
		Value  float64 `json:"value"`
	}
	err = h.Func("Alerts",
		extension.Reflect(func(ctx context.Context, readings []Reading, alerts *extension.Collector[Reading]) error {
			for _, r := range readings {
				if r.Value > 100 {
					if err := alerts.Add(ctx, r); err != nil {
						return err
					}
				}
			}
			return nil
		}),
		eventhubs.Trigger("readings", "telemetry", map[string]any{"connection": "Telemetry", "cardinality": "many"}),
		eventhubs.Output("alerts", "alerts", map[string]any{"connection": "Telemetry"}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// Verify builds every binding as Run would, without connecting; h.Run(ctx) processes the
	// hub's partitions until ctx is cancelled.
	fmt.Println(h.Verify(context.Background()))
	// Output: <nil>
}

// Dead-lettered batches are listed and read from host storage (Host.Services().Storage, the
// azure-webjobs-hosts container of AzureWebJobsStorage); Replay sends one back to its hub.
func ExampleListDeadLetters() {
	ctx := context.Background()
	hs := extension.NewMemoryStorage()                            // in a program: the host's storage
	keys, err := eventhubs.ListDeadLetters(ctx, hs, "", "Alerts") // every host's, of function Alerts
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, k := range keys {
		dl, err := eventhubs.ReadDeadLetter(ctx, hs, k)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		fmt.Printf("%s: partition %s, %d event(s): %s\n", k, dl.Source.Partition, len(dl.Events), dl.Reason)
		// eventhubs.Replay(ctx, hs, producer, k) re-sends them and deletes the dead letter.
	}
	fmt.Println(len(keys), "dead-lettered batches")
	// Output: 0 dead-lettered batches
}
