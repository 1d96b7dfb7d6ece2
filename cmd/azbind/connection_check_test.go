package main

import (
	"encoding/json"
	"strings"
	"testing"

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
