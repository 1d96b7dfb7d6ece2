package blob

import (
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{
		Name:  "blobs",
		Check: Check,
		Bindings: []driver.BindingType{
			{Type: "blobTrigger", Service: connection.Blob, NewTrigger: newTrigger},
			{Type: "blob", Service: connection.Blob, NewInput: newInput, NewOutput: newOutput},
		},
	})
}

// Trigger declares a blobTrigger binding for the Go API (Host.Func): path is
// "container/pattern" (e.g. "images/{name}.png"); props may add "connection" (default
// AzureWebJobsStorage), "startFrom" and "source".
func Trigger(name, path string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("blobTrigger", name, driver.DirIn, "path", path, props...)
}

// Input declares a blob input binding; path may use binding data ({name}, {queueTrigger}, a
// JSON payload's {id}) and %setting%. props may add "connection".
func Input(name, path string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("blob", name, driver.DirIn, "path", path, props...)
}

// Output declares a blob output binding; name "$return" takes the handler's return value.
func Output(name, path string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("blob", name, driver.DirOut, "path", path, props...)
}
