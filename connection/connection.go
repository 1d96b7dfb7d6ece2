// Package connection resolves the `connection` property of an Azure Functions binding to what an
// Azure SDK for Go client needs: a connection string, or an endpoint plus an azcore.TokenCredential
// built from `__`-prefixed identity properties, exactly as the Azure Functions host does.
//
// It is usable on its own (see Resolver and the `azbind connection resolve` command) and is the
// connection service that the extension runtime hands to every connector.
//
// # Settings
//
// Settings merge sources in order; the first source that defines a key wins. NewDefaultSettings
// puts the process environment before local.settings.json, so the environment wins when both
// define a key (Core Tools exports Values as environment variables without overwriting existing
// ones). Keys are case-insensitive and `__` and `:` are the same separator (checklist C4).
// local.settings.json's ConnectionStrings become `ConnectionStrings:<name>`; "IsEncrypted": true is
// an error (ErrEncryptedSettings).
//
// # Lookup (checklist C1-C7)
//
// %x% tokens in the name are replaced by settings first (C5). An empty name means the service's
// default (DefaultName: Storage → AzureWebJobsStorage for blob/queue/table, CosmosDB, ServiceBus;
// Event Hubs and Event Grid have none). Candidates (LookupOrder): ConnectionStrings:AzureWebJobs<n>,
// AzureWebJobs<n>, ConnectionStrings:<n>, <n>; Service Bus checks the unprefixed two first; Event
// Grid looks up <n> only. The first candidate that exists (a value, even empty, or children) wins.
// A non-empty value is a connection string, which beats any children; otherwise the children are
// an identity connection.
//
// # Connection strings
//
// Keys are matched case-insensitively and rewritten to their canonical spelling (the Go SDKs'
// parsers are case-sensitive), so Connection.ConnectionString may differ from the setting's text
// in key case, spacing and empty segments. UseDevelopmentStorage=true (with an optional
// DevelopmentStorageProxyUri) is expanded to Azurite's well-known account and endpoints, because
// no Go storage SDK accepts it. Storage strings need AccountKey or SharedAccessSignature (the Go
// SDKs have no anonymous connection-string form); both at once is a conflict. Event Grid has no
// connection-string form in the real system (keys go through the binding's topicEndpointUri and
// topicKeySetting); azbind accepts `Endpoint=<topic endpoint>;AccessKey=<key>` for it.
//
// # Identity connections
//
// Endpoint properties: blob accountName, blobServiceUri, serviceUri; queue accountName,
// queueServiceUri, serviceUri; table accountName, tableServiceUri; cosmos accountEndpoint; service
// bus and event hubs fullyQualifiedNamespace; event grid topicEndpointUri. Where several are set,
// azbind follows the extension path (reference 1.6, checklist C8): accountName first, then
// <svc>ServiceUri, then serviceUri; the host's own order for AzureWebJobsStorage (C9:
// blobServiceUri before accountName) is not used. accountName becomes
// https://<account>.<svc>.<suffix>, the suffix chosen by azureCloud (public, usgov, china).
//
// Credentials follow ClientFactory.CreateCredential (reference 1.5, C11): credential=managedidentity
// (at most one of clientId, managedIdentityClientId, managedIdentityResourceId,
// managedIdentityObjectId; none = system-assigned, C12), credential=workloadidentity (tenantId,
// clientId, tokenFilePath, falling back to AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_FEDERATED_TOKEN_FILE), credential=managedidentityasfederatedidentity, credential=
// azurepipelines, tenantId+clientId+clientSecret, tenantId+clientId+clientCertificatePath (a PEM or
// PKCS#12 file, password in clientCertificatePassword: Go cannot read the Windows certificate store,
// so the real clientCertificate thumbprint is rejected with ErrUnsupported), and otherwise
// DefaultAzureCredential with the given tenant and managed identity ids. Unknown credential values
// are ignored, as in the real system. Nothing is built or fetched while resolving: the credential
// is a lazy wrapper that builds the azidentity credential on its first GetToken, cached per
// connection section in the Resolver.
//
// # Secrets
//
// Secrets never leave this package in readable form: Connection.String, Connection.LogValue, every
// fmt verb on a *Connection and every error redact account keys, SAS tokens, client secrets and
// full connection strings; Redacted gives the connection string with AccountKey=*** etc. A
// connection string used as the connection name is replaced by RedactedName in errors (C13).
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
