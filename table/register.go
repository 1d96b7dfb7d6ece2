package table

import (
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// BindingType is the function.json type this package registers.
const BindingType = "table"

func init() {
	driver.Register(driver.Extension{
		Name:  "tables",
		Check: Check,
		Bindings: []driver.BindingType{{
			Type:      BindingType,
			Service:   connection.Table,
			NewInput:  newInput,
			NewOutput: newOutput,
		}},
	})
}

// Input declares a table input binding for the Go API (Host.Func). props may add
// "partitionKey", "rowKey", "filter", "take" and "connection"; tableName and the keys may use
// {binding data} and %setting%.
func Input(name, tableName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn(BindingType, name, driver.DirIn, "tableName", tableName, props...)
}

// Output declares a table output binding; name "$return" takes the handler's return value.
// props may add "partitionKey", "rowKey", "mode" (insert, upsert, merge) and "connection".
func Output(name, tableName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn(BindingType, name, driver.DirOut, "tableName", tableName, props...)
}
