package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/identitytest"
)

// --check makes a real authenticated call: connection strings (shared key) and identity
// connections (managed identity from a loopback token endpoint) against Azurite over HTTPS.
func TestConnectionResolveCheck(t *testing.T) {
	az := emulator.StartAzurite(t, &emulator.AzuriteOptions{OAuth: true})
	checkTransport = az.HTTPClient
	t.Cleanup(func() { checkTransport = nil })
	mi := identitytest.Start(t, nil)
	mi.SetEnv(t)
	wrongKey := "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
	path := writeSettings(t, map[string]string{
		"AzbAz":                  az.ConnectionString,
		"AzbWrong":               strings.Replace(az.ConnectionString, az.AccountKey, wrongKey, 1),
		"AzbId__credential":      "managedidentity",
		"AzbId__blobServiceUri":  az.BlobEndpoint,
		"AzbId__queueServiceUri": az.QueueEndpoint,
		"AzbId__tableServiceUri": az.TableEndpoint,
	}, nil)
	for _, svc := range []string{"blob", "queue", "table"} {
		for _, name := range []string{"AzbAz", "AzbId"} {
			code, out, errOut := runCLI("connection", "resolve", name, "--service", svc, "--settings", path, "--check")
			if code != 0 || !strings.Contains(out, "check:      ok") {
				t.Fatalf("%s %s: exit %d\n%s\n%s", name, svc, code, out, errOut)
			}
			code, out, _ = runCLI("connection", "resolve", name, "--service", svc, "--settings", path, "--check", "--json")
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || got["check"] != "ok" {
				t.Fatalf("%s %s --json: exit %d %v\n%s", name, svc, code, err, out)
			}
			if strings.Contains(out, az.AccountKey) {
				t.Fatal("the account key was printed")
			}
		}
		code, out, errOut := runCLI("connection", "resolve", "AzbWrong", "--service", svc, "--settings", path, "--check")
		if code != 1 || !strings.Contains(errOut, "--check failed") || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("wrong key %s: exit %d\n%s\n%s", svc, code, out, errOut)
		}
		if strings.Contains(errOut+out, wrongKey) || strings.Contains(errOut+out, az.AccountKey) {
			t.Fatalf("a key was printed: %s %s", out, errOut)
		}
		if !strings.Contains(errOut, "HTTP 4") || !strings.Contains(errOut, "Authentication") {
			t.Fatalf("the SDK's error is missing: %s", errOut)
		}
	}
	if len(mi.Requests()) == 0 {
		t.Fatal("the identity check never asked for a token")
	}
}

// --check --service table with a SAS connection string checks the TableEndpoint the table
// binding uses (through the connector's Check hook), not https://<account>.table.core.windows.net,
// and never prints the signature.
func TestConnectionResolveCheckTableSAS(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	cred, err := aztables.NewSharedKeyCredential(az.AccountName, az.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	sas, err := aztables.AccountSASSignatureValues{
		Protocol:      aztables.SASProtocolHTTPSandHTTP,
		ExpiryTime:    time.Now().Add(time.Hour),
		Permissions:   aztables.AccountSASPermissions{Read: true, List: true}.String(),
		Services:      "t",
		ResourceTypes: aztables.AccountSASResourceTypes{Service: true, Container: true, Object: true}.String(),
	}.Sign(cred)
	if err != nil {
		t.Fatal(err)
	}
	sig := sas.Signature()
	path := writeSettings(t, map[string]string{
		"AzbSas": "AccountName=" + az.AccountName + ";TableEndpoint=" + az.TableEndpoint + ";SharedAccessSignature=" + sas.Encode(),
	}, nil)
	code, out, errOut := runCLI("connection", "resolve", "AzbSas", "--service", "table", "--settings", path, "--check")
	if code != 0 || !strings.Contains(out, "check:      ok") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, sig) || strings.Contains(out+errOut, url.QueryEscape(sig)) {
		t.Fatalf("the SAS signature was printed:\n%s\n%s", out, errOut)
	}
	if !strings.Contains(out, az.TableEndpoint) {
		t.Fatalf("the check did not name the endpoint the binding uses (%s):\n%s", az.TableEndpoint, out)
	}
}
