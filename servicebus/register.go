package servicebus

import (
	"context"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{
		Name: "serviceBus",
		Bindings: []driver.BindingType{
			{Type: "serviceBusTrigger", Service: connection.ServiceBus, NewTrigger: newTrigger, Extras: extraTypes},
			{Type: "serviceBus", Service: connection.ServiceBus, NewOutput: newOutput},
		},
		Check: check,
	})
}

// Trigger declares a serviceBusTrigger on a queue for the Go API (Host.Func); props may add
// "connection", "isSessionsEnabled", "autoCompleteMessages", "cardinality": "many", ….
func Trigger(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("serviceBusTrigger", name, driver.DirIn, "queueName", queueName, props...)
}

// SubscriptionTrigger declares a serviceBusTrigger on a topic subscription.
func SubscriptionTrigger(name, topicName, subscriptionName string, props ...driver.Props) *driver.BindingSpec {
	p := driver.Props{"subscriptionName": subscriptionName}
	for _, m := range props {
		for k, v := range m {
			p[k] = v
		}
	}
	return driver.BindingOn("serviceBusTrigger", name, driver.DirIn, "topicName", topicName, p)
}

// Output declares a serviceBus output binding to a queue; name "$return" takes the handler's
// return value. queueName may use {binding data} and %setting%.
func Output(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("serviceBus", name, driver.DirOut, "queueName", queueName, props...)
}

// TopicOutput declares a serviceBus output binding to a topic.
func TopicOutput(name, topicName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("serviceBus", name, driver.DirOut, "topicName", topicName, props...)
}

// Check proves that a resolved Service Bus connection works (what `azbind connection resolve
// --check` calls).
func Check(ctx context.Context, c *connection.Connection) error { return check(ctx, c) }
