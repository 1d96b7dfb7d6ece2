package table

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/testhost"
)

// roundTrip writes one entity through an output and reads it back through an input, on host.
func roundTrip(t *testing.T, host *driver.Services, tbl string) {
	t.Helper()
	ctx := context.Background()
	bc := func(dir driver.Direction, props driver.Props, param reflect.Type) *driver.BindContext {
		spec := driver.Binding(BindingType, "b", dir, props)
		spec.Where = "test"
		return &driver.BindContext{Spec: spec, Host: host, Param: param}
	}
	out, err := newOutput(ctx, bc(driver.DirOut, driver.Props{"tableName": tbl, "connection": "Tables"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := write(t, out, md(), map[string]any{"PartitionKey": "p", "RowKey": "r", "V": "hello"}); err != nil {
		t.Fatal(err)
	}
	in, err := newInput(ctx, bc(driver.DirIn, driver.Props{"tableName": tbl, "partitionKey": "p", "rowKey": "r", "connection": "Tables"}, reflect.TypeFor[map[string]any]()))
	if err != nil {
		t.Fatal(err)
	}
	v, err := in.Bind(ctx, md())
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := v.(map[string]any); m["V"] != "hello" {
		t.Fatalf("read back %v", v)
	}
}

// A SAS connection string with TableEndpoint: aztables alone would ignore the endpoint.
func TestSASConnectionString(t *testing.T) {
	sas := accountSAS(t)
	conn := connection.Connection{
		Kind:             connection.KindConnectionString,
		CredentialType:   "sas",
		ConnectionString: "AccountName=" + azurite.AccountName + ";TableEndpoint=" + azurite.TableEndpoint + ";SharedAccessSignature=" + sas.Encode(),
	}
	host := testhost.Services(t, extension.HostOptions{Connections: resolver{conn}})
	roundTrip(t, host, fmt.Sprintf("sas%d", tableSeq.Add(1)))
}

// staticToken is an unsigned JWT that Azurite's `--oauth basic` accepts (it checks issuer,
// audience and times, not the signature).
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	now := time.Now()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	jwt := enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/", "aud": "https://storage.azure.com",
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}) + "."
	return azcore.AccessToken{Token: jwt, ExpiresOn: now.Add(time.Hour)}, nil
}

// An identity connection (tableServiceUri + credential) against Azurite with OAuth over HTTPS.
func TestIdentityConnection(t *testing.T) {
	az := emulator.StartAzurite(t, &emulator.AzuriteOptions{OAuth: true})
	conn := connection.Connection{
		Kind:           connection.KindIdentity,
		Endpoint:       az.TableEndpoint,
		Credential:     staticToken{},
		CredentialType: "managedIdentity",
		ClientOptions:  azcore.ClientOptions{Transport: az.HTTPClient},
	}
	host := testhost.Services(t, extension.HostOptions{Connections: resolver{conn}})
	roundTrip(t, host, "identity1")

	conn.Endpoint = ""
	host = testhost.Services(t, extension.HostOptions{Connections: resolver{conn}})
	spec := driver.Binding(BindingType, "b", driver.DirOut, driver.Props{"tableName": "x1x", "connection": "Tables"})
	spec.Where = "test"
	_, err := newOutput(context.Background(), &driver.BindContext{Spec: spec, Host: host})
	if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "tableServiceUri") {
		t.Fatalf("identity without endpoint: %v", err)
	}
}

// A malformed connection string fails at load time without echoing the secret.
func TestBadConnectionString(t *testing.T) {
	conn := connection.Connection{Kind: connection.KindConnectionString, ConnectionString: "AccountKey=" + azurite.AccountKey}
	host := testhost.Services(t, extension.HostOptions{Connections: resolver{conn}})
	spec := driver.Binding(BindingType, "b", driver.DirIn, driver.Props{"tableName": "abc", "connection": "Broken"})
	spec.Where = "F/function.json: bindings[1]"
	_, err := newInput(context.Background(), &driver.BindContext{Spec: spec, Host: host})
	if err == nil || !strings.Contains(err.Error(), "Broken") || !strings.Contains(err.Error(), "F/function.json") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), azurite.AccountKey) {
		t.Fatal("error leaks the account key")
	}
}
