package eventhubs

import (
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// TriggerType is the trigger's binding type.
const TriggerType = "eventHubTrigger"

func init() {
	driver.Register(driver.Extension{
		Name:  "eventHubs",
		Check: Check,
		Bindings: []driver.BindingType{
			{Type: TriggerType, Service: connection.EventHubs, NewTrigger: newTrigger},
			{Type: "eventHub", Service: connection.EventHubs, NewOutput: newOutput},
		},
	})
}

// Trigger declares an eventHubTrigger for the Go API (Host.Func). props may add "connection",
// "consumerGroup" and "cardinality": "many" (batch dispatch: the handler takes a slice).
func Trigger(name, eventHubName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("eventHubTrigger", name, driver.DirIn, "eventHubName", eventHubName, props...)
}

// Output declares an eventHub output binding; name "$return" takes the handler's return value.
// props may add "connection" and "partitionKey" (which may use {binding data}).
func Output(name, eventHubName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("eventHub", name, driver.DirOut, "eventHubName", eventHubName, props...)
}
