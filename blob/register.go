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
	return extension.Binding("blobTrigger", name, extension.DirIn, merge(path, props))
}

// Input declares a blob input binding; path may use binding data ({name}, {queueTrigger}, a
// JSON payload's {id}) and %setting%. props may add "connection".
func Input(name, path string, props ...extension.Props) *extension.BindingSpec {
	return extension.Binding("blob", name, extension.DirIn, merge(path, props))
}

// Output declares a blob output binding; name "$return" takes the handler's return value.
func Output(name, path string, props ...extension.Props) *extension.BindingSpec {
	return extension.Binding("blob", name, extension.DirOut, merge(path, props))
}

func merge(path string, more []extension.Props) extension.Props {
	base := extension.Props{"path": path}
	for _, m := range more {
		for k, v := range m {
			base[k] = v
		}
	}
	return base
}
