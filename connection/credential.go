package connection

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Credential types reported in Connection.CredentialType.
const (
	CredSharedKey         = "sharedKey"
	CredSAS               = "sas"
	CredSharedAccessKey   = "sharedAccessKey"
	CredAccountKey        = "accountKey"
	CredTopicKey          = "topicKey"
	CredManagedIdentity   = "managedIdentity"
	CredWorkloadIdentity  = "workloadIdentity"
	CredFederatedMI       = "managedIdentityAsFederatedIdentity"
	CredAzurePipelines    = "azurePipelines"
	CredClientSecret      = "clientSecret"
	CredClientCertificate = "clientCertificate"
	CredDefault           = "default"
)

// secretIdentityProps are identity properties whose values are secrets.
var secretIdentityProps = map[string]bool{
	"clientsecret": true, "systemaccesstoken": true, "clientcertificatepassword": true,
}

// isSecretIdentityProp reports whether an identity section child (normalized key, value) must be
// hidden in Properties: the known secret properties, children named like connection-string
// secrets (accountKey, sharedAccessKey, ...) or connectionString, and any value that looks like a
// connection string or SAS.
func isSecretIdentityProp(key, value string) bool {
	last := key[strings.LastIndex(key, ":")+1:]
	return secretIdentityProps[last] || secretConnStringKeys[last] || last == "connectionstring" ||
		looksLikeConnectionString(value)
}

// azureClouds maps azureCloud values to the SDK cloud configuration and storage suffix.
var azureClouds = map[string]struct {
	cfg    cloud.Configuration
	suffix string
	fedAud string // audience for managedidentityasfederatedidentity
}{
	"public": {cloud.AzurePublic, "core.windows.net", "api://AzureADTokenExchange"},
	"usgov":  {cloud.AzureGovernment, "core.usgovcloudapi.net", "api://AzureADTokenExchangeUSGov"},
	"china":  {cloud.AzureChina, "core.chinacloudapi.cn", "api://AzureADTokenExchangeChina"},
}

// props is an identity section's children keyed by normalized name.
type props struct {
	prefix string // the section prefix as spelled in its source
	m      map[string]Setting
}

func (p props) get(name string) string { return strings.TrimSpace(p.m[strings.ToLower(name)].Value) }

func (p props) has(name string) bool { return p.get(name) != "" }

// key is the full setting key of a property as spelled in its source.
func (p props) key(name string) string {
	if s, ok := p.m[strings.ToLower(name)]; ok {
		return s.Key
	}
	return p.prefix + "__" + name
}

// credSpec is the outcome of the credential selection (reference 1.5) before anything is built.
type credSpec struct {
	typ        string
	clientID   string
	tenantID   string
	resourceID string
	objectID   string
	notes      []string
	build      func(opts azcore.ClientOptions) (azcore.TokenCredential, error)
}

// selectCredential applies ClientFactory.CreateCredential's rules in order (checklist C11, C12).
// lookupEnv reads AZURE_* variables for workload identity (the settings, which include the
// environment). No credential is built here.
func selectCredential(p props, cloudCfg *cloud.Configuration, lookupEnv func(string) string) (*credSpec, error) {
	cred := strings.ToLower(p.get("credential"))
	tenant, client := p.get("tenantId"), p.get("clientId")
	var allowed []string
	for _, t := range strings.Split(p.get("additionallyAllowedTenants"), ";") {
		if t = strings.TrimSpace(t); t != "" {
			allowed = append(allowed, t)
		}
	}
	withCloud := func(o azcore.ClientOptions) azcore.ClientOptions {
		if cloudCfg != nil {
			o.Cloud = *cloudCfg
		}
		return o
	}
	miIDs := []string{"clientId", "managedIdentityClientId", "managedIdentityResourceId", "managedIdentityObjectId"}

	// 1. credential=managedidentity
	if cred == "managedidentity" {
		var set []string
		for _, k := range miIDs {
			if p.has(k) {
				set = append(set, k)
			}
		}
		if len(set) > 1 {
			//lint:ignore ST1005 the real extension's message, verbatim
			return nil, fmt.Errorf("%w: %s and %s are both set: Only one of [clientId, managedIdentityClientId, managedIdentityResourceId, managedIdentityObjectId] can be specified for managed identity.", ErrConflict, p.key(set[0]), p.key(set[1]))
		}
		s := &credSpec{typ: CredManagedIdentity}
		var id azidentity.ManagedIDKind
		switch {
		case p.has("managedIdentityResourceId"):
			s.resourceID = p.get("managedIdentityResourceId")
			id = azidentity.ResourceID(s.resourceID)
		case p.has("managedIdentityObjectId"):
			s.objectID = p.get("managedIdentityObjectId")
			id = azidentity.ObjectID(s.objectID)
		case p.has("managedIdentityClientId"):
			s.clientID = p.get("managedIdentityClientId")
			id = azidentity.ClientID(s.clientID)
		case p.has("clientId"):
			s.clientID = client
			id = azidentity.ClientID(s.clientID)
		default:
			s.notes = append(s.notes, "no client id given: system-assigned managed identity")
		}
		s.build = func(o azcore.ClientOptions) (azcore.TokenCredential, error) {
			return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: withCloud(o), ID: id})
		}
		return s, nil
	}

	// 2. credential=workloadidentity
	if cred == "workloadidentity" {
		s := &credSpec{typ: CredWorkloadIdentity, tenantID: tenant, clientID: client}
		file := p.get("tokenFilePath")
		if s.tenantID == "" {
			s.tenantID = lookupEnv("AZURE_TENANT_ID")
		}
		if s.clientID == "" {
			s.clientID = lookupEnv("AZURE_CLIENT_ID")
		}
		if file == "" {
			file = lookupEnv("AZURE_FEDERATED_TOKEN_FILE")
		}
		var missing []string
		for _, m := range []struct{ v, k string }{{s.tenantID, "tenantId"}, {s.clientID, "clientId"}, {file, "tokenFilePath"}} {
			if m.v == "" {
				missing = append(missing, p.key(m.k))
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: For workload identity, 'tenantId', 'clientId', and 'tokenFilePath' must be specified via the configuration. Missing: %s (or AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_FEDERATED_TOKEN_FILE)", ErrIncomplete, strings.Join(missing, ", "))
		}
		tid, cid := s.tenantID, s.clientID
		s.build = func(o azcore.ClientOptions) (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions: withCloud(o), TenantID: tid, ClientID: cid, TokenFilePath: file, AdditionallyAllowedTenants: allowed})
		}
		return s, nil
	}

	// 3. credential=managedidentityasfederatedidentity
	if cred == "managedidentityasfederatedidentity" {
		s := &credSpec{typ: CredFederatedMI, tenantID: tenant, clientID: client}
		var missing []string
		for _, k := range []string{"tenantId", "clientId", "azureCloud"} {
			if !p.has(k) {
				missing = append(missing, p.key(k))
			}
		}
		var set []string
		for _, k := range miIDs[1:] {
			if p.has(k) {
				set = append(set, k)
			}
		}
		if len(set) > 1 {
			return nil, fmt.Errorf("%w: %s and %s are both set: exactly one of [managedIdentityClientId, managedIdentityObjectId, managedIdentityResourceId] must be specified for managed identity as federated identity", ErrConflict, p.key(set[0]), p.key(set[1]))
		}
		if len(set) == 0 {
			missing = append(missing, p.key("managedIdentityClientId")+" (or managedIdentityObjectId / managedIdentityResourceId)")
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: managed identity as federated identity needs 'tenantId', 'clientId', 'azureCloud' and one managed identity id; missing: %s", ErrIncomplete, strings.Join(missing, ", "))
		}
		var id azidentity.ManagedIDKind
		switch set[0] {
		case "managedIdentityResourceId":
			s.resourceID = p.get(set[0])
			id = azidentity.ResourceID(s.resourceID)
		case "managedIdentityObjectId":
			s.objectID = p.get(set[0])
			id = azidentity.ObjectID(s.objectID)
		default:
			id = azidentity.ClientID(p.get(set[0]))
		}
		aud := azureClouds[strings.ToLower(p.get("azureCloud"))].fedAud
		s.build = func(o azcore.ClientOptions) (azcore.TokenCredential, error) {
			mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: withCloud(o), ID: id})
			if err != nil {
				return nil, err
			}
			assert := func(ctx context.Context) (string, error) {
				tk, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{aud + "/.default"}})
				return tk.Token, err
			}
			return azidentity.NewClientAssertionCredential(tenant, client, assert, &azidentity.ClientAssertionCredentialOptions{ClientOptions: withCloud(o), AdditionallyAllowedTenants: allowed})
		}
		return s, nil
	}

	// 4. credential=azurepipelines
	if cred == "azurepipelines" {
		s := &credSpec{typ: CredAzurePipelines, tenantID: tenant, clientID: client}
		var missing []string
		for _, k := range []string{"tenantId", "clientId", "serviceConnectionId", "systemAccessToken"} {
			if !p.has(k) {
				missing = append(missing, p.key(k))
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: for Azure Pipelines, 'tenantId', 'clientId', 'serviceConnectionId' and 'systemAccessToken' must be specified; missing: %s", ErrIncomplete, strings.Join(missing, ", "))
		}
		conn, token := p.get("serviceConnectionId"), p.get("systemAccessToken")
		s.build = func(o azcore.ClientOptions) (azcore.TokenCredential, error) {
			return azidentity.NewAzurePipelinesCredential(tenant, client, conn, token, &azidentity.AzurePipelinesCredentialOptions{ClientOptions: withCloud(o), AdditionallyAllowedTenants: allowed})
		}
		return s, nil
	}

	// 5. tenantId + clientId + clientSecret
	if tenant != "" && client != "" && p.has("clientSecret") {
		s := &credSpec{typ: CredClientSecret, tenantID: tenant, clientID: client}
		secret := p.get("clientSecret")
		s.build = func(o azcore.ClientOptions) (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: withCloud(o), AdditionallyAllowedTenants: allowed})
		}
		return s, nil
	}

	// 6. tenantId + clientId + certificate. Go has no certificate store: the certificate is a
	// PEM or PKCS#12 file named by clientCertificatePath (password: clientCertificatePassword).
	if tenant != "" && client != "" && (p.has("clientCertificatePath") || p.has("clientCertificate")) {
		if !p.has("clientCertificatePath") {
			return nil, fmt.Errorf("%w: %s is a certificate thumbprint for the Windows certificate store, which Go cannot read; set %s to a PEM or PKCS#12 file instead", ErrUnsupported, p.key("clientCertificate"), p.prefix+"__clientCertificatePath")
		}
		s := &credSpec{typ: CredClientCertificate, tenantID: tenant, clientID: client}
		path, pw := p.get("clientCertificatePath"), p.get("clientCertificatePassword")
		pathKey := p.key("clientCertificatePath")
		s.build = func(o azcore.ClientOptions) (azcore.TokenCredential, error) {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pathKey, err)
			}
			var pwb []byte
			if pw != "" {
				pwb = []byte(pw)
			}
			certs, key, err := azidentity.ParseCertificates(data, pwb)
			if err != nil {
				return nil, fmt.Errorf("%s: the file is not a usable PEM or PKCS#12 certificate with its private key (check clientCertificatePassword)", pathKey)
			}
			return azidentity.NewClientCertificateCredential(tenant, client, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: withCloud(o), AdditionallyAllowedTenants: allowed})
		}
		return s, nil
	}

	// 7. managedIdentityObjectId outside rule 1
	if p.has("managedIdentityObjectId") {
		return nil, fmt.Errorf("%w: %s: 'managedIdentityObjectId' is only supported when the credential type is 'managedidentity'. Set %s=managedidentity", ErrConflict, p.key("managedIdentityObjectId"), p.prefix+"__credential")
	}

	// 8./9. DefaultAzureCredential, with the given tenant and managed identity ids.
	s := &credSpec{typ: CredDefault, tenantID: tenant}
	miClient := p.get("managedIdentityClientId")
	if miClient == "" {
		miClient = client
	}
	s.clientID = miClient
	s.resourceID = p.get("managedIdentityResourceId")
	if cred != "" {
		s.notes = append(s.notes, fmt.Sprintf("credential value %q is not one the Functions host knows; it is ignored", p.get("credential")))
	}
	if p.has("clientSecret") || p.has("clientCertificatePath") {
		s.notes = append(s.notes, "clientSecret/clientCertificatePath are used only together with tenantId and clientId")
	}
	var miID azidentity.ManagedIDKind
	switch {
	case s.resourceID != "":
		miID = azidentity.ResourceID(s.resourceID)
	case miClient != "":
		miID = azidentity.ClientID(miClient)
	}
	s.build = func(o azcore.ClientOptions) (azcore.TokenCredential, error) {
		o = withCloud(o)
		if miID == nil {
			return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: o, TenantID: tenant, AdditionallyAllowedTenants: allowed})
		}
		// azidentity's DefaultAzureCredential has no managed identity id option: build the same
		// chain (environment, workload identity, managed identity with the id, Azure CLI, Azure
		// Developer CLI) from its parts.
		var chain []azcore.TokenCredential
		if c, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: o}); err == nil {
			chain = append(chain, c)
		}
		if c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: o, TenantID: tenant, AdditionallyAllowedTenants: allowed}); err == nil {
			chain = append(chain, c)
		}
		mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: o, ID: miID})
		if err != nil {
			return nil, err
		}
		chain = append(chain, mi)
		if c, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenant, AdditionallyAllowedTenants: allowed}); err == nil {
			chain = append(chain, c)
		}
		if c, err := azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: tenant, AdditionallyAllowedTenants: allowed}); err == nil {
			chain = append(chain, c)
		}
		return azidentity.NewChainedTokenCredential(chain, nil)
	}
	return s, nil
}

// lazyCredential builds its azidentity credential on the first GetToken (so resolving makes no
// network call and reads no file) and then delegates to it. A build error is returned by every
// GetToken until a build succeeds.
type lazyCredential struct {
	mu    sync.Mutex
	cred  azcore.TokenCredential
	build func() (azcore.TokenCredential, error)
	what  string // e.g. `managedIdentity credential for connection "Storage1"`
}

func (l *lazyCredential) get() (azcore.TokenCredential, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cred != nil {
		return l.cred, nil
	}
	c, err := l.build()
	if err != nil {
		return nil, fmt.Errorf("building the %s: %w", l.what, err)
	}
	if c == nil {
		return nil, errors.New("building the " + l.what + ": no credential")
	}
	l.cred = c
	return c, nil
}

// GetToken implements azcore.TokenCredential.
func (l *lazyCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c, err := l.get()
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return c.GetToken(ctx, opts)
}

// Unwrap returns the underlying azidentity credential, building it if needed.
func (l *lazyCredential) Unwrap() (azcore.TokenCredential, error) { return l.get() }
