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

// Trigger declares a blobTrigger binding for the Go API: path is "container/pattern"
// (e.g. "images/{name}.png"), connection names the storage connection ("" for
// AzureWebJobsStorage). props adds optional properties such as "startFrom".
func Trigger(name, path, conn string, props ...extension.Props) *extension.BindingSpec {
	return extension.Binding("blobTrigger", name, extension.DirIn, merge(extension.Props{"path": path, "connection": conn}, props))
}

// Input declares a blob input binding for the Go API.
func Input(name, path, conn string, props ...extension.Props) *extension.BindingSpec {
	return extension.Binding("blob", name, extension.DirIn, merge(extension.Props{"path": path, "connection": conn}, props))
}

// Output declares a blob output binding for the Go API.
func Output(name, path, conn string, props ...extension.Props) *extension.BindingSpec {
	return extension.Binding("blob", name, extension.DirOut, merge(extension.Props{"path": path, "connection": conn}, props))
}

func merge(base extension.Props, more []extension.Props) extension.Props {
	for _, m := range more {
		for k, v := range m {
			base[k] = v
		}
	}
	if s, _ := base["connection"].(string); s == "" {
		delete(base, "connection")
	}
	return base
}
