package queue

import (
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{
		Name:  "queues",
		Check: Check,
		Bindings: []driver.BindingType{
			{Type: "queueTrigger", Service: connection.Queue, NewTrigger: newTrigger},
			{Type: "queue", Service: connection.Queue, NewInput: newInput, NewOutput: newOutput},
		},
	})
}

// Trigger declares a queueTrigger for the Go API (Host.Func); props may add "connection"
// and other properties.
func Trigger(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("queueTrigger", name, driver.DirIn, "queueName", queueName, props...)
}

// Output declares a queue output binding; name "$return" takes the handler's return value.
// queueName may use {binding data} and %setting%.
func Output(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("queue", name, driver.DirOut, "queueName", queueName, props...)
}

// Client declares a queue input binding that supplies a *azqueue.QueueClient for queueName
// (or a *azqueue.ServiceClient when the parameter has that type).
func Client(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("queue", name, driver.DirIn, "queueName", queueName, props...)
}
