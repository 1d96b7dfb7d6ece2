package memconn

import (
	"reflect"

	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{
		Name: "memory", // host.json "extensions": {"memory": {…}}, decoded into Options
		Bindings: []driver.BindingType{
			// *Actions is offered to handlers by type (BindingType.Extras, Event.Extras).
			{Type: "memTrigger", NewTrigger: newQueueTrigger, Extras: []reflect.Type{reflect.TypeFor[*Actions]()}},
			{Type: "memStreamTrigger", NewTrigger: newStreamTrigger},
			{Type: "memPushTrigger", NewTrigger: newPushTrigger},
			{Type: "mem", NewInput: newInput, NewOutput: newOutput},
		},
		Check: Check,
	})
}
