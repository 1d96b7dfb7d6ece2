package emulator_test

import (
	"fmt"
	"strings"

	"github.com/azbind/azbind/internal/emulator"
)

// Programs (the demo, benchmarks) launch Azurite themselves and stop it when done; tests use
// StartAzurite(t, nil) instead, which stops it in t.Cleanup.
func ExampleLaunchAzurite() {
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer az.Stop()
	// az.ConnectionString goes into the AzureWebJobsStorage setting; never print it.
	fmt.Println(strings.HasPrefix(az.QueueEndpoint, "http://127.0.0.1:"))
	// Output: true
}
