package connection

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// writeCert writes a self-signed certificate and key as one PEM file.
func writeCert(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "azbind-test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cert.pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// C11, C12 and reference 1.5: every credential branch, in order, with the built azidentity type.
func TestCredentialSelection(t *testing.T) {
	cert := writeCert(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("federated"), 0o600); err != nil {
		t.Fatal(err)
	}
	const ep = "https://a.blob.core.windows.net"
	tests := []struct {
		name                    string
		props                   map[string]string
		env                     map[string]string // extra settings (AZURE_* fallbacks)
		typ                     string
		built                   any // pointer type of the built credential
		clientID, tenant, resID string
		objectID                string
	}{
		{"mi system-assigned", map[string]string{"credential": "managedidentity"}, nil, CredManagedIdentity, (*azidentity.ManagedIdentityCredential)(nil), "", "", "", ""},
		{"mi case-insensitive", map[string]string{"credential": "ManagedIdentity"}, nil, CredManagedIdentity, (*azidentity.ManagedIdentityCredential)(nil), "", "", "", ""},
		{"mi clientId", map[string]string{"credential": "managedidentity", "clientId": "cid"}, nil, CredManagedIdentity, (*azidentity.ManagedIdentityCredential)(nil), "cid", "", "", ""},
		{"mi managedIdentityClientId", map[string]string{"credential": "managedidentity", "managedIdentityClientId": "mcid"}, nil, CredManagedIdentity, (*azidentity.ManagedIdentityCredential)(nil), "mcid", "", "", ""},
		{"mi resource id", map[string]string{"credential": "managedidentity", "managedIdentityResourceId": "/sub/rg/id"}, nil, CredManagedIdentity, (*azidentity.ManagedIdentityCredential)(nil), "", "", "/sub/rg/id", ""},
		{"mi object id", map[string]string{"credential": "managedidentity", "managedIdentityObjectId": "oid"}, nil, CredManagedIdentity, (*azidentity.ManagedIdentityCredential)(nil), "", "", "", "oid"},
		{"mi wins over secret", map[string]string{"credential": "managedidentity", "tenantId": "t", "clientId": "c", "clientSecret": cliSec}, nil, CredManagedIdentity, (*azidentity.ManagedIdentityCredential)(nil), "c", "", "", ""},
		{"workload", map[string]string{"credential": "workloadidentity", "tenantId": "t", "clientId": "c", "tokenFilePath": tokenFile}, nil, CredWorkloadIdentity, (*azidentity.WorkloadIdentityCredential)(nil), "c", "t", "", ""},
		{"workload env fallback", map[string]string{"credential": "WorkloadIdentity"}, map[string]string{"AZURE_TENANT_ID": "et", "AZURE_CLIENT_ID": "ec", "AZURE_FEDERATED_TOKEN_FILE": tokenFile}, CredWorkloadIdentity, (*azidentity.WorkloadIdentityCredential)(nil), "ec", "et", "", ""},
		{"workload props override env", map[string]string{"credential": "workloadidentity", "clientId": "pc"}, map[string]string{"AZURE_TENANT_ID": "et", "AZURE_CLIENT_ID": "ec", "AZURE_FEDERATED_TOKEN_FILE": tokenFile}, CredWorkloadIdentity, (*azidentity.WorkloadIdentityCredential)(nil), "pc", "et", "", ""},
		{"mi as federated", map[string]string{"credential": "managedidentityasfederatedidentity", "tenantId": "t", "clientId": "app", "azureCloud": "public", "managedIdentityClientId": "mi"}, nil, CredFederatedMI, (*azidentity.ClientAssertionCredential)(nil), "app", "t", "", ""},
		{"azure pipelines", map[string]string{"credential": "azurepipelines", "tenantId": "t", "clientId": "c", "serviceConnectionId": "sc", "systemAccessToken": cliSec}, map[string]string{"SYSTEM_OIDCREQUESTURI": "https://example.invalid/oidc"}, CredAzurePipelines, (*azidentity.AzurePipelinesCredential)(nil), "c", "t", "", ""},
		{"client secret", map[string]string{"tenantId": "t", "clientId": "c", "clientSecret": cliSec, "additionallyAllowedTenants": "x; y"}, nil, CredClientSecret, (*azidentity.ClientSecretCredential)(nil), "c", "t", "", ""},
		{"secret before certificate", map[string]string{"tenantId": "t", "clientId": "c", "clientSecret": cliSec, "clientCertificatePath": cert}, nil, CredClientSecret, (*azidentity.ClientSecretCredential)(nil), "c", "t", "", ""},
		{"client certificate", map[string]string{"tenantId": "t", "clientId": "c", "clientCertificatePath": cert}, nil, CredClientCertificate, (*azidentity.ClientCertificateCredential)(nil), "c", "t", "", ""},
		{"default with ids", map[string]string{"tenantId": "t", "clientId": "c"}, nil, CredDefault, (*azidentity.ChainedTokenCredential)(nil), "c", "t", "", ""},
		{"default mi client id wins", map[string]string{"clientId": "c", "managedIdentityClientId": "m"}, nil, CredDefault, (*azidentity.ChainedTokenCredential)(nil), "m", "", "", ""},
		{"default mi resource", map[string]string{"managedIdentityResourceId": "/r"}, nil, CredDefault, (*azidentity.ChainedTokenCredential)(nil), "", "", "/r", ""},
		{"default tenant only", map[string]string{"tenantId": "t"}, nil, CredDefault, (*azidentity.DefaultAzureCredential)(nil), "", "t", "", ""},
		{"default nothing", map[string]string{}, nil, CredDefault, (*azidentity.DefaultAzureCredential)(nil), "", "", "", ""},
		{"unknown credential value ignored", map[string]string{"credential": "azurecli"}, nil, CredDefault, (*azidentity.DefaultAzureCredential)(nil), "", "", "", ""},
		{"secret without tenant falls to default", map[string]string{"clientId": "c", "clientSecret": cliSec}, nil, CredDefault, (*azidentity.ChainedTokenCredential)(nil), "c", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"Conn__blobServiceUri": ep}
			for k, v := range tt.props {
				m["Conn__"+k] = v
			}
			for k, v := range tt.env {
				m[k] = v
				if strings.HasPrefix(k, "SYSTEM_") { // read by azidentity from the process environment
					t.Setenv(k, v)
				}
			}
			ex, err := resolver(m).Explain(context.Background(), "Conn", Blob)
			if err != nil {
				t.Fatal(err)
			}
			c := ex.Connection
			if c.CredentialType != tt.typ || c.ClientID != tt.clientID || c.TenantID != tt.tenant || c.ResourceID != tt.resID || c.ObjectID != tt.objectID {
				t.Fatalf("got %s client %q tenant %q resource %q object %q", c.CredentialType, c.ClientID, c.TenantID, c.ResourceID, c.ObjectID)
			}
			lc, ok := c.Credential.(*lazyCredential)
			if !ok {
				t.Fatalf("credential %T is not lazy", c.Credential)
			}
			if lc.cred != nil {
				t.Fatal("credential built while resolving")
			}
			built, err := lc.Unwrap()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if reflect.TypeOf(built) != reflect.TypeOf(tt.built) {
				t.Fatalf("built %T, want %T", built, tt.built)
			}
			if p := c.Properties["clientsecret"]; p != "" && p != "***" {
				t.Fatal("client secret in Properties")
			}
			assertNoSecrets(t, "connection", c.String()+strings.Join(ex.Notes, " "))
		})
	}
}

func TestCredentialErrors(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		sent  error
		want  []string
	}{
		{"two mi ids", map[string]string{"credential": "managedidentity", "clientId": "a", "managedIdentityResourceId": "/r"}, ErrConflict,
			[]string{"Conn__clientId and Conn__managedIdentityResourceId are both set", "Only one of [clientId, managedIdentityClientId, managedIdentityResourceId, managedIdentityObjectId] can be specified for managed identity."}},
		{"mi client ids", map[string]string{"credential": "managedidentity", "managedIdentityClientId": "a", "managedIdentityObjectId": "o"}, ErrConflict,
			[]string{"Conn__managedIdentityClientId and Conn__managedIdentityObjectId"}},
		{"workload missing", map[string]string{"credential": "workloadidentity", "clientId": "c"}, ErrIncomplete,
			[]string{"For workload identity, 'tenantId', 'clientId', and 'tokenFilePath' must be specified via the configuration.", "Conn__tenantId", "Conn__tokenFilePath"}},
		{"federated missing", map[string]string{"credential": "managedidentityasfederatedidentity", "tenantId": "t", "clientId": "c"}, ErrIncomplete,
			[]string{"Conn__azureCloud", "Conn__managedIdentityClientId"}},
		{"federated two ids", map[string]string{"credential": "managedidentityasfederatedidentity", "tenantId": "t", "clientId": "c", "azureCloud": "public", "managedIdentityClientId": "a", "managedIdentityResourceId": "b"}, ErrConflict,
			[]string{"Conn__managedIdentityClientId and Conn__managedIdentityResourceId"}},
		{"pipelines missing", map[string]string{"credential": "azurepipelines", "tenantId": "t", "clientId": "c", "systemAccessToken": cliSec}, ErrIncomplete,
			[]string{"Conn__serviceConnectionId"}},
		{"thumbprint", map[string]string{"tenantId": "t", "clientId": "c", "clientCertificate": "ABCDEF"}, ErrUnsupported,
			[]string{"Conn__clientCertificate is a certificate thumbprint", "Conn__clientCertificatePath"}},
		{"object id without mi", map[string]string{"managedIdentityObjectId": "o"}, ErrConflict,
			[]string{"'managedIdentityObjectId' is only supported when the credential type is 'managedidentity'."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"Conn__queueServiceUri": "https://a.queue.core.windows.net"}
			for k, v := range tt.props {
				m["Conn__"+k] = v
			}
			_, err := resolver(m).Resolve(context.Background(), "Conn", Queue)
			if !errors.Is(err, tt.sent) {
				t.Fatalf("err = %v, want %v", err, tt.sent)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v, want it to contain %q", err, w)
				}
			}
			assertNoSecrets(t, "error", err.Error())
		})
	}
}

// A build failure (bad certificate file) surfaces on GetToken, names the setting and is not cached
// as success.
func TestLazyCredentialBuildError(t *testing.T) {
	m := map[string]string{"C__blobServiceUri": "https://a.blob.core.windows.net", "C__tenantId": "t", "C__clientId": "c",
		"C__clientCertificatePath": filepath.Join(t.TempDir(), "missing.pem"), "C__clientCertificatePassword": cliSec}
	c, err := resolver(m).Resolve(context.Background(), "C", Blob)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Credential.GetToken(context.Background(), azcorePolicyOpts())
	if err == nil || !strings.Contains(err.Error(), "C__clientCertificatePath") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
	assertNoSecrets(t, "error", err.Error())
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a cert"), 0o600)
	m["C__clientCertificatePath"] = bad
	c, _ = resolver(m).Resolve(context.Background(), "C", Blob)
	if _, err = c.Credential.GetToken(context.Background(), azcorePolicyOpts()); err == nil || !strings.Contains(err.Error(), "not a usable PEM or PKCS#12") {
		t.Fatalf("err = %v", err)
	}
}

var _ azcore.TokenCredential = (*lazyCredential)(nil)

func azcorePolicyOpts() policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}}
}
