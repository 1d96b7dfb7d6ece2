package emulator_test

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/emulator"
)

// Azurite for a program (in a test, emulator.StartAzurite(t, nil) stops it at the test's end):
// its connection string is what AzureWebJobsStorage would hold.
func ExampleLaunchAzurite() {
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		fmt.Println(err) // e.g. not installed: the error says how to install it
		return
	}
	defer az.Stop()
	qs, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = qs.NewQueueClient("orders").Create(context.Background(), nil)
	fmt.Println("queue created:", err == nil)
	// Output: queue created: true
}
