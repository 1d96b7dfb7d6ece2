package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/azbind/azbind/connection"
)

const (
	tKey    = "VGVzdEFjY291bnRLZXlTZWNyZXQxMjM0NTY3OA=="
	tSAS    = "sv=2024-08-04&ss=bqt&srt=sco&sp=rwdl&se=2031-01-01T00:00:00Z&sig=Q0xJU2lnbmF0dXJlU2VjcmV0"
	tSBKey  = "U0JTaGFyZWRBY2Nlc3NLZXlTZWNyZXQ="
	tCosKey = "Q29zbW9zQWNjb3VudEtleVNlY3JldA=="
	tEGKey  = "RUdUb3BpY0tleVNlY3JldFZhbHVl"
	tSecret = "cli-client-secret-7Hq"
	tToken  = "pipelines-system-token-9Zr"
)

var cliSecrets = []string{tKey, tSAS, "Q0xJU2lnbmF0dXJlU2VjcmV0", tSBKey, tCosKey, tEGKey, tSecret, tToken, connection.DevStoreAccountKey}

// writeSettings writes a local.settings.json with these Values and ConnectionStrings.
func writeSettings(t *testing.T, values, connStrings map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"IsEncrypted": false, "Values": values, "ConnectionStrings": connStrings})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "local.settings.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

var cliValues = map[string]string{
	"AzbStor":                                "DefaultEndpointsProtocol=https;AccountName=azbacct;AccountKey=" + tKey + ";EndpointSuffix=core.windows.net",
	"AzbSas":                                 "BlobEndpoint=https://azbacct.blob.core.windows.net/;QueueEndpoint=https://azbacct.queue.core.windows.net/;SharedAccessSignature=" + tSAS,
	"AzbDev":                                 "UseDevelopmentStorage=true",
	"AzbMI__blobServiceUri":                  "https://mi.blob.core.windows.net",
	"AzbMI__queueServiceUri":                 "https://mi.queue.core.windows.net",
	"AzbMI__credential":                      "managedidentity",
	"AzbMI__clientId":                        "11111111-1111-1111-1111-111111111111",
	"AzbSP__accountName":                     "spacct",
	"AzbSP__tenantId":                        "22222222-2222-2222-2222-222222222222",
	"AzbSP__clientId":                        "33333333-3333-3333-3333-333333333333",
	"AzbSP__clientSecret":                    tSecret,
	"AzbPipe__accountName":                   "pipe",
	"AzbPipe__credential":                    "azurepipelines",
	"AzbPipe__tenantId":                      "t",
	"AzbPipe__clientId":                      "c",
	"AzbPipe__systemAccessToken":             tToken,
	"AzbPipe__serviceConnectionId":           "sc",
	"AzbConflict__blobServiceUri":            "https://c.blob.core.windows.net",
	"AzbConflict__credential":                "managedidentity",
	"AzbConflict__clientId":                  "a",
	"AzbConflict__managedIdentityResourceId": "/subscriptions/x",
	"AzbBadKey":                              "AccountName=a;AccountKey=not-base64!" + tSecret,
	"AzbBadSeg":                              "AccountName=a;" + tSecret,
	"AzbSB":                                  "Endpoint=sb://azbns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=" + tSBKey + ";EntityPath=orders",
	"AzureWebJobsAzbSB":                      "Endpoint=sb://prefixed.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=" + tSBKey,
	"AzbSBLoopback":                          "Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=Root;SharedAccessKey=" + tSBKey + ";EntityPath=orders;UseDevelopmentEmulator=true",
	"AzbEH__fullyQualifiedNamespace":         "azbeh.servicebus.windows.net",
	"AzbCos":                                 "AccountEndpoint=https://azbcos.documents.azure.com:443/;AccountKey=" + tCosKey + ";",
	"AzbEG":                                  "Endpoint=https://azbtopic.westus-1.eventgrid.azure.net/api/events;AccessKey=" + tEGKey,
	"AzbIndirect":                            "AzbStor",
	"AzbHoldsCS":                             "AccountName=x;AccountKey=" + tKey,
}

func TestConnectionResolveJSON(t *testing.T) {
	path := writeSettings(t, cliValues, map[string]string{"AzbNamed": cliValues["AzbStor"]})
	tests := []struct {
		args []string
		want map[string]string
	}{
		{[]string{"AzbStor"}, map[string]string{"name": "AzbStor", "service": "blob", "source": "local.settings.json", "key": "AzbStor", "kind": "connectionString", "endpoint": "https://azbacct.blob.core.windows.net", "credential": "sharedKey"}},
		{[]string{"AzbStor", "--service", "table"}, map[string]string{"endpoint": "https://azbacct.table.core.windows.net"}},
		{[]string{"--service=queue", "AzbSas"}, map[string]string{"endpoint": "https://azbacct.queue.core.windows.net/", "credential": "sas"}},
		{[]string{"AzbDev", "--service", "queue"}, map[string]string{"endpoint": "http://127.0.0.1:10001/devstoreaccount1", "credential": "sharedKey"}},
		{[]string{"AzbNamed"}, map[string]string{"key": "ConnectionStrings:AzbNamed"}},
		{[]string{"%AzbIndirect%"}, map[string]string{"name": "AzbStor", "key": "AzbStor"}},
		{[]string{"azbmi"}, map[string]string{"kind": "identity", "key": "AzbMI", "endpoint": "https://mi.blob.core.windows.net", "credential": "managedIdentity", "clientId": "11111111-1111-1111-1111-111111111111"}},
		{[]string{"AzbMI", "--service", "queue"}, map[string]string{"endpoint": "https://mi.queue.core.windows.net"}},
		{[]string{"AzbSP", "--service", "table"}, map[string]string{"endpoint": "https://spacct.table.core.windows.net", "credential": "clientSecret", "tenantId": "22222222-2222-2222-2222-222222222222"}},
		{[]string{"AzbPipe"}, map[string]string{"credential": "azurePipelines"}},
		{[]string{"AzbSB", "--service", "servicebus"}, map[string]string{"key": "AzbSB", "endpoint": "azbns.servicebus.windows.net", "credential": "sharedAccessKey", "entityPath": "orders"}},
		{[]string{"AzbSB", "--service", "eventhubs"}, map[string]string{"key": "AzureWebJobsAzbSB", "endpoint": "prefixed.servicebus.windows.net"}},
		{[]string{"AzbEH", "--service", "eventhubs"}, map[string]string{"kind": "identity", "endpoint": "azbeh.servicebus.windows.net", "credential": "default"}},
		{[]string{"AzbCos", "--service", "cosmos"}, map[string]string{"endpoint": "https://azbcos.documents.azure.com:443/", "credential": "accountKey"}},
		{[]string{"AzbEG", "--service", "eventgrid"}, map[string]string{"endpoint": "https://azbtopic.westus-1.eventgrid.azure.net/api/events", "credential": "topicKey"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"connection", "resolve", "--settings", path, "--json"}, tt.args...)
			code, out, errOut := runCLI(args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q, stdout %s", code, errOut, out)
			}
			var got map[string]any
			dec := json.NewDecoder(strings.NewReader(out))
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if dec.More() {
				t.Fatalf("more than one JSON value: %s", out)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("%s = %v, want %v\n%s", k, got[k], v, out)
				}
			}
		})
	}
}

func TestConnectionResolveFailures(t *testing.T) {
	path := writeSettings(t, cliValues, nil)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"AzbMissing"}, []string{`connection "AzbMissing" (blob)`, "Storage account connection string 'AzureWebJobsAzbMissing' does not exist", "tried ConnectionStrings:AzureWebJobsAzbMissing, AzureWebJobsAzbMissing, ConnectionStrings:AzbMissing, AzbMissing", "fix: define AzureWebJobsAzbMissing"}},
		{[]string{"AzbMissing", "--service", "servicebus"}, []string{"tried ConnectionStrings:AzbMissing, AzbMissing, ConnectionStrings:AzureWebJobsAzbMissing"}},
		{[]string{"", "--service", "eventhubs"}, []string{"Event Hubs has no default connection"}},
		{[]string{"AzbConflict"}, []string{"AzbConflict__clientId and AzbConflict__managedIdentityResourceId are both set"}},
		{[]string{"AzbBadKey"}, []string{"setting AzbBadKey from local.settings.json", "AccountKey is not valid base64"}},
		{[]string{"AzbBadSeg"}, []string{"segment 2 has no '='"}},
		{[]string{"AzbMI", "--service", "table"}, []string{"'tableServiceUri' or 'accountName'"}},
		{[]string{"%AzbNope%"}, []string{"'%AzbNope%' does not resolve to a value."}},
		{[]string{"%AzbHoldsCS%"}, []string{connection.RedactedName}},
		{[]string{"AccountName=x;AccountKey=" + tKey}, []string{connection.RedactedName}},
		{[]string{"AzbStor", "--service", "files"}, []string{"unknown service"}},
		// Every service has a Check now (through driver.CheckFor); a closed loopback port fails it
		// in one line without the key.
		{[]string{"AzbSBLoopback", "--service", "servicebus", "--check"}, []string{"connection refused", "--check failed"}},
	}
	for _, tt := range tests {
		// Subtest names must not carry the secrets some arguments hold (a test's name is output).
		t.Run(connection.ScrubText(strings.Join(tt.args, " ")), func(t *testing.T) {
			args := append([]string{"connection", "resolve", "--settings", path}, tt.args...)
			code, out, errOut := runCLI(args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr %q", code, errOut)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") {
				t.Fatalf("stderr is not one line: %q", errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Fatalf("stderr %q lacks %q", errOut, w)
				}
			}
			_ = out
			code, out, _ = runCLI(append(args, "--json")...)
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 {
				t.Fatalf("--json failure: exit %d, %v: %s", code, err, out)
			}
			if msg, _ := got["error"].(string); !strings.Contains(msg, tt.want[0]) {
				t.Fatalf("--json error %q lacks %q", msg, tt.want[0])
			}
		})
	}
}

func TestConnectionResolveHuman(t *testing.T) {
	path := writeSettings(t, cliValues, nil)
	t.Setenv("AzbEnvWins", "DefaultEndpointsProtocol=https;AccountName=fromenv;AccountKey="+tKey)
	path2 := writeSettings(t, map[string]string{"AzbEnvWins": "DefaultEndpointsProtocol=https;AccountName=fromfile;AccountKey=" + tKey}, nil)
	code, out, _ := runCLI("connection", "resolve", "AzbMI", "--settings", path)
	for _, w := range []string{"1. ConnectionStrings:AzureWebJobsAzbMI", "not set", "4. AzbMI", "FOUND AzbMI in local.settings.json", "identity connection", "endpoint:   https://mi.blob.core.windows.net", "credential: managedIdentity", "client id:  11111111"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Fatalf("exit %d, output lacks %q:\n%s", code, w, out)
		}
	}
	code, out, _ = runCLI("connection", "resolve", "AzbEnvWins", "--settings", path2)
	if code != 0 || !strings.Contains(out, "in env") || !strings.Contains(out, "fromenv") || !strings.Contains(out, "AccountKey=***") {
		t.Fatalf("environment must win over local.settings.json:\n%s", out)
	}
	code, out, _ = runCLI("connection", "resolve", "AzbMissing", "--settings", path)
	if code != 1 || !strings.Contains(out, "problem:    connection setting not found") || !strings.Contains(out, "fix:        define AzureWebJobsAzbMissing") || !strings.Contains(out, "4. AzbMissing") {
		t.Fatalf("failure explanation:\n%s", out)
	}
	// Usage errors.
	if code, _, _ := runCLI("connection"); code != 2 {
		t.Fatal("no subcommand must be a usage error")
	}
	if code, _, _ := runCLI("connection", "resolve"); code != 2 {
		t.Fatal("no NAME must be a usage error")
	}
	if code, _, _ := runCLI("connection", "resolve", "a", "b"); code != 2 {
		t.Fatal("two NAMEs must be a usage error")
	}
	if code, _, errOut := runCLI("connection", "resolve", "a", "--settings", filepath.Join(t.TempDir(), "none.json")); code != 1 || !strings.Contains(errOut, "none.json") {
		t.Fatalf("missing --settings file: %d %q", code, errOut)
	}
	enc := writeSettings(t, nil, nil)
	_ = os.WriteFile(enc, []byte(`{"IsEncrypted": true, "Values": {"A": "`+tSecret+`"}}`), 0o600)
	if code, _, errOut := runCLI("connection", "resolve", "A", "--settings", enc); code != 1 || !strings.Contains(errOut, "encrypted") || strings.Contains(errOut, tSecret) {
		t.Fatalf("encrypted settings: %d %q", code, errOut)
	}
}

// No secret ever appears in the CLI's output, across every scenario above and all flags.
func TestConnectionResolveNeverPrintsSecrets(t *testing.T) {
	path := writeSettings(t, cliValues, map[string]string{"AzbNamed": cliValues["AzbStor"]})
	t.Setenv("AzbEnvSecret__blobServiceUri", "https://e.blob.core.windows.net")
	t.Setenv("AzbEnvSecret__tenantId", "t")
	t.Setenv("AzbEnvSecret__clientId", "c")
	t.Setenv("AzbEnvSecret__clientSecret", tSecret)
	names := []string{"", "AzbEnvSecret", "AzbNamed", "%AzbHoldsCS%", "AccountName=x;AccountKey=" + tKey, "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=" + tSBKey, "BlobEndpoint=https://a/;SharedAccessSignature=" + tSAS}
	for k := range cliValues {
		names = append(names, k, strings.ToLower(k))
	}
	n := 0
	for _, name := range names {
		for _, svc := range []string{"blob", "queue", "table", "cosmos", "servicebus", "eventhubs", "eventgrid"} {
			for _, extra := range [][]string{nil, {"--json"}} {
				args := append([]string{"connection", "resolve", name, "--service", svc, "--settings", path}, extra...)
				_, out, errOut := runCLI(args...)
				n++
				for _, sec := range cliSecrets {
					if strings.Contains(out, sec) || strings.Contains(errOut, sec) {
						t.Fatalf("%v printed a secret:\nstdout: %s\nstderr: %s", args[2:], out, errOut)
					}
				}
			}
		}
	}
	if n < 200 {
		t.Fatalf("only %d scenarios", n)
	}
}
