package eventgrid

import (
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{
		Name: "eventGrid",
		Bindings: []driver.BindingType{
			{Type: "eventGridTrigger", NewTrigger: newTrigger},
			// The topicEndpointUri + topicKeySetting form has no connection (Event Grid has no
			// default connection name, so `azbind validate` skips an empty one); the factory
			// checks either form and reports every problem at load.
			{Type: "eventGrid", Service: connection.EventGrid, NewOutput: newOutput},
		},
		Check: check,
	})
}

// Trigger declares an eventGridTrigger binding for the Go API (Host.Func). A slice parameter
// (or props {"cardinality": "many"}) gets every event of a delivery in one invocation.
func Trigger(name string, props ...driver.Props) *driver.BindingSpec {
	p := driver.Props{}
	for _, m := range props {
		for k, v := range m {
			p[k] = v
		}
	}
	return driver.Binding("eventGridTrigger", name, driver.DirIn, p)
}

// Output declares an eventGrid output binding; props give either "topicEndpointUri" and
// "topicKeySetting" (names of the app settings holding the topic endpoint and key) or
// "connection" (the name of a <name>__topicEndpointUri identity section). Name "$return" takes
// the handler's return value.
func Output(name string, props ...driver.Props) *driver.BindingSpec {
	p := driver.Props{}
	for _, m := range props {
		for k, v := range m {
			p[k] = v
		}
	}
	return driver.Binding("eventGrid", name, driver.DirOut, p)
}
