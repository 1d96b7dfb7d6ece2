package blob

import (
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
)

func init() {
	extension.Register(extension.Extension{
		Name: "blobs",
		Bindings: []extension.BindingType{
			{Type: "blobTrigger", Service: connection.Blob, NewTrigger: newTrigger},
			{Type: "blob", Service: connection.Blob, NewInput: newInput, NewOutput: newOutput},
		},
	})
}

// Trigger declares a blobTrigger binding for the Go API (Host.Func): path is
// "container/pattern" (e.g. "images/{name}.png"); props may add "connection" (default
// AzureWebJobsStorage), "startFrom" and "source".
func Trigger(name, path string, props ...extension.Props) *extension.BindingSpec {
	return extension.BindingOn("blobTrigger", name, extension.DirIn, "path", path, props...)
}

// Input declares a blob input binding; path may use binding data ({name}, {queueTrigger}, a
// JSON payload's {id}) and %setting%. props may add "connection".
func Input(name, path string, props ...extension.Props) *extension.BindingSpec {
	return extension.BindingOn("blob", name, extension.DirIn, "path", path, props...)
}

// Output declares a blob output binding; name "$return" takes the handler's return value.
func Output(name, path string, props ...extension.Props) *extension.BindingSpec {
	return extension.BindingOn("blob", name, extension.DirOut, "path", path, props...)
}
