package blob

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// identityResolver resolves to identity connections: blobServiceUri / queueServiceUri.
type identityResolver struct {
	az      *emulator.Azurite
	noQueue bool
}

func (r identityResolver) Resolve(_ context.Context, name string, s connection.Service) (*connection.Connection, error) {
	c := &connection.Connection{Name: "Storage", Service: s, Kind: connection.KindIdentity, Credential: staticToken{},
		CredentialType: "managedIdentity", ClientOptions: azcore.ClientOptions{Transport: r.az.HTTPClient}}
	switch s {
	case connection.Blob:
		c.Endpoint = r.az.BlobEndpoint
	case connection.Queue:
		if !r.noQueue {
			c.Endpoint = r.az.QueueEndpoint
		}
	}
	return c, nil
}

// The trigger, input and output work with an identity (token credential over HTTPS).
func TestIdentityConnection(t *testing.T) {
	oaz := emulator.StartAzurite(t, &emulator.AzuriteOptions{OAuth: true})
	host := testhost.Services(t, extension.HostOptions{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		HostID: unique("h"), Connections: identityResolver{az: oaz}, Concurrency: 2})
	c := unique("ident")
	ctx := context.Background()

	// Output (creates the container), then a trigger sees it through the fast path or a scan.
	rec := newRecorder()
	startTrigger(t, host, "Ident", c+"/{name}", rec, nil, driver.Props{"connection": "Storage"})
	out, err := newOutput(ctx, bindContext("W", Output("out", c+"/{name}", driver.Props{"connection": "Storage"}), host, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	write(t, out, fcWith(driver.MapMetadata{"name": "x.txt"}), "over https")
	waitFor(t, 20*time.Second, "invocation over an identity connection", func() bool { return rec.count(c+"/x.txt") == 1 })
	rec.mu.Lock()
	got := string(rec.datas[0])
	rec.mu.Unlock()
	if got != "over https" {
		t.Fatalf("data = %q", got)
	}
	in, err := newInput(ctx, bindContext("R", Input("in", c+"/x.txt", driver.Props{"connection": "Storage"}), host, reflect.TypeFor[string](), nil))
	if err != nil {
		t.Fatal(err)
	}
	v, err := in.Bind(ctx, fcWith(nil))
	if err != nil || string(v.([]byte)) != "over https" {
		t.Fatalf("input = %v, %v", v, err)
	}

	// blobServiceUri without queueServiceUri (and no AzureWebJobsStorage): a clear error.
	bad := testhost.Services(t, extension.HostOptions{HostID: "h", Connections: identityResolver{az: oaz, noQueue: true}})
	_, err = newTrigger(ctx, bindContext("NoQ", Trigger("in", c+"/{name}", driver.Props{"connection": "Storage"}), bad, nil, nil))
	if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "queueServiceUri") {
		t.Fatalf("identity without a queue endpoint: %v", err)
	}
}

// Errors about connection strings never carry the key.
func TestConnectionErrorsRedactSecrets(t *testing.T) {
	const key = "c2VjcmV0LWtleS12YWx1ZQ=="
	for _, cs := range []string{
		"AccountName=acct;AccountKey=" + key,                       // no endpoint suffix: SDK builds one (valid)
		"DefaultEndpointsProtocol=http;AccountKey=" + key + ";",    // no account name
		"BlobEndpoint=http://[::1;AccountName=a;AccountKey=" + key, // bad URL
	} {
		_, err := NewServiceClient(&connection.Connection{Name: "Storage", Key: "Storage", Kind: connection.KindConnectionString, ConnectionString: cs})
		if err != nil && strings.Contains(fmt.Sprint(err), key) {
			t.Errorf("error leaks the account key: %v", err)
		}
	}
}
