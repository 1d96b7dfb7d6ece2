package blob_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// A function triggered by new blobs in "uploads" that writes an upper-cased copy to "processed",
// reading a sidecar blob if there is one (a missing blob binds nil). The connection "Storage"
// names an app setting (a connection string, or Storage__blobServiceUri and
// Storage__queueServiceUri for an identity).
func Example() {
	settings := connection.NewSettings(connection.FromMap("example", map[string]string{"Storage": "UseDevelopmentStorage=true"}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings})
	if err != nil {
		fmt.Println(err)
		return
	}
	type in struct {
		Text    string            `azbind:"doc"`
		Sidecar map[string]string `azbind:"sidecar"`
	}
	err = h.Func("Upper", extension.Func(func(ctx context.Context, v in) (string, error) {
		name, _ := extension.FromContext(ctx).Metadata.Lookup("name")
		_ = name // {name} and {ext} are binding data, as are BlobTrigger, Uri, Properties and Metadata
		return strings.ToUpper(v.Text), nil
	}),
		blob.Trigger("doc", "uploads/{name}.{ext}", driver.Props{"connection": "Storage"}),
		blob.Input("sidecar", "uploads/{name}.meta.json", driver.Props{"connection": "Storage"}),
		blob.Output("$return", "processed/{name}.{ext}", driver.Props{"connection": "Storage"}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Verify builds every binding as Run would, without starting anything; h.Run(ctx) runs the
	// function until ctx is cancelled.
	fmt.Println(h.Verify(context.Background()))
	// Output: <nil>
}
