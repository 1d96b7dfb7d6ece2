// Package connection resolves the `connection` property of an Azure Functions binding to what an
// Azure SDK for Go client needs: a connection string, or an endpoint plus an azcore.TokenCredential
// built from `__`-prefixed identity properties, exactly as the Azure Functions host does.
//
// It is usable on its own (see Resolver and the `azbind connection resolve` command) and is the
// connection service that the extension runtime hands to every connector.
//
// Secrets never leave this package in readable form: Connection.String, Connection.LogValue and
// every error redact account keys, SAS tokens, client secrets and full connection strings.
package connection

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Service names the Azure service a connection is resolved for. The service decides the lookup
// order (Service Bus checks unprefixed names first, Event Grid looks the name up directly), the
// default connection name, and which identity endpoint property is read.
type Service string

// The services azbind resolves connections for.
const (
	Blob       Service = "blob"
	Queue      Service = "queue"
	Table      Service = "table"
	Cosmos     Service = "cosmos"
	ServiceBus Service = "servicebus"
	EventHubs  Service = "eventhubs"
	EventGrid  Service = "eventgrid"
)

// Kind says how a connection authenticates.
type Kind string

const (
	// KindConnectionString: the setting held a connection string (ConnectionString is set).
	KindConnectionString Kind = "connectionString"
	// KindIdentity: the setting was a section of identity properties (Endpoint and Credential are set).
	KindIdentity Kind = "identity"
)

// Connection is a resolved binding connection. Build SDK clients from it with the SDK's own
// constructors: NewClientFromConnectionString(c.ConnectionString, ...) for KindConnectionString,
// NewClient(c.Endpoint, c.Credential, ...) for KindIdentity. Always pass c.ClientOptions on.
type Connection struct {
	Name    string  // connection name after %x% expansion and defaulting
	Service Service // service it was resolved for
	Source  string  // "env", "local.settings.json" or the name of another settings source
	Key     string  // the setting key or section prefix that matched, as spelled in the source
	Kind    Kind

	// ConnectionString is the connection string (secret!) for KindConnectionString, already
	// expanded where the SDK would not accept it (UseDevelopmentStorage=true). Never log it;
	// Redacted gives a printable form.
	ConnectionString string

	// Endpoint is the service endpoint the client will use (for both kinds when known).
	Endpoint string

	// Credential is the lazily built, cached token credential for KindIdentity (nil otherwise).
	Credential azcore.TokenCredential

	// CredentialType is one of sharedKey, sas, sharedAccessKey, accountKey, topicKey,
	// managedIdentity, workloadIdentity, clientSecret, clientCertificate, default.
	CredentialType string

	ClientID   string // where applicable
	TenantID   string
	ResourceID string
	ObjectID   string // managedIdentityObjectId, where applicable
	EntityPath string // Service Bus / Event Hubs entity from the connection string

	// Properties are the non-secret values of the connection (identity section children or parsed
	// connection string fields) keyed by their lower-cased name; secret ones are replaced by "***".
	Properties map[string]string

	// ClientOptions carry the transport, cloud and retry settings every client built from this
	// connection must use (tests inject a transport trusting a local CA here).
	ClientOptions azcore.ClientOptions

	redactedCS string   // ConnectionString with secrets replaced by ***
	secrets    []string // secret values, for Scrub
}
