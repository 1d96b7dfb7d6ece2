package cosmos

import (
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// Binding types, as declared in function.json.
const (
	TriggerType = "cosmosDBTrigger"
	BindingType = "cosmosDB"
)

func init() {
	driver.Register(driver.Extension{
		Name: "cosmosDB",
		Bindings: []driver.BindingType{
			{Type: TriggerType, Service: connection.Cosmos, NewTrigger: newTrigger},
			{Type: BindingType, Service: connection.Cosmos, NewInput: newInput, NewOutput: newOutput},
		},
		Check: check,
	})
}

// Trigger declares a cosmosDBTrigger on database/container for the Go API. props add or override
// properties (connection, leaseContainerName, leaseContainerPrefix, startFromBeginning, …).
func Trigger(name, database, container string, props ...driver.Props) *driver.BindingSpec {
	return binding(TriggerType, name, driver.DirIn, database, container, props)
}

// Input declares a cosmosDB input binding (a point read with id and partitionKey, or a query with
// sqlQuery).
func Input(name, database, container string, props ...driver.Props) *driver.BindingSpec {
	return binding(BindingType, name, driver.DirIn, database, container, props)
}

// Output declares a cosmosDB output binding (upserts).
func Output(name, database, container string, props ...driver.Props) *driver.BindingSpec {
	return binding(BindingType, name, driver.DirOut, database, container, props)
}

func binding(typ, name string, dir driver.Direction, database, container string, props []driver.Props) *driver.BindingSpec {
	p := driver.Props{"databaseName": database, "containerName": container}
	for _, extra := range props {
		for k, v := range extra {
			p[k] = v
		}
	}
	return driver.Binding(typ, name, dir, p)
}
