package connection_test

import (
	"context"
	"fmt"

	"github.com/azbind/azbind/connection"
)

// Resolve an identity connection and a connection string the way Azure Functions does.
func ExampleResolver_Resolve() {
	settings := connection.NewSettings(connection.FromMap("env", map[string]string{
		"AzureWebJobsStorage":     "UseDevelopmentStorage=true",
		"Orders__queueServiceUri": "https://contoso.queue.core.windows.net",
		"Orders__credential":      "managedidentity",
		"Orders__clientId":        "00000000-0000-0000-0000-000000000123",
		"OrdersConnectionName":    "Orders",
	}))
	r := connection.NewResolver(settings, nil)

	c, err := r.Resolve(context.Background(), "%OrdersConnectionName%", connection.Queue)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Kind, c.Endpoint, c.CredentialType, c.ClientID)

	c, _ = r.Resolve(context.Background(), "", connection.Blob) // the default: AzureWebJobsStorage
	fmt.Println(c.Key, c.Endpoint)
	fmt.Println(c.Redacted())
	// Output:
	// identity https://contoso.queue.core.windows.net managedIdentity 00000000-0000-0000-0000-000000000123
	// AzureWebJobsStorage http://127.0.0.1:10000/devstoreaccount1
	// DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=***;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;
}

// A missing connection names the keys tried and the fix.
func ExampleResolveError() {
	r := connection.NewResolver(connection.NewSettings(), nil)
	_, err := r.Resolve(context.Background(), "Missing", connection.ServiceBus)
	fmt.Println(err)
	// Output:
	// connection "Missing" (servicebus): connection setting not found: Service Bus account connection string with name 'Missing' does not exist in the settings. Make sure that it is a defined App Setting.; tried ConnectionStrings:Missing, Missing, ConnectionStrings:AzureWebJobsMissing, AzureWebJobsMissing; fix: define Missing (environment or local.settings.json Values) as a connection string, or Missing__fullyQualifiedNamespace (plus Missing__credential etc.) for an identity connection
}
