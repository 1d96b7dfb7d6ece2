package extension

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func problemLines(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		if p.Warning {
			b.WriteString("warning: ")
		}
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// Issue 23: the Cosmos DB extension 3.x names (the function.json table of Microsoft's "Migrate
// function apps from Azure Cosmos DB extension version 3.x to version 4.x") each get one line
// naming the 4.x name, as errors: the v4 host ignores them, and a connection silently taken
// from the default setting can reach the wrong account. Removed 3.x options get a warning.
func TestCosmosV3NamesRefused(t *testing.T) {
	f, ps := ParseFunctionJSON("Feed", "Feed/function.json", []byte(`{"bindings": [
		{"type": "cosmosDBTrigger", "name": "docs", "databaseName": "db", "collectionName": "orders",
		 "ConnectionStringSetting": "Orders", "leaseConnectionStringSetting": "Leases",
		 "leaseCollectionName": "leases", "createLeaseCollectionIfNotExists": true,
		 "leasesCollectionThroughput": 400, "leaseCollectionPrefix": "p", "checkpointInterval": 5},
		{"type": "cosmosDB", "direction": "out", "name": "doc", "databaseName": "db",
		 "collectionName": "x", "containerName": "x", "collectionThroughput": 400}]}`))
	if len(ps) > 0 {
		t.Fatalf("parse: %v", ps)
	}
	out := problemLines(CheckFunction(f, nil))
	for _, want := range []string{
		`Feed/function.json: bindings[0].collectionName: "collectionName" is the Cosmos DB extension 3.x name of "containerName"`,
		`bindings[0].ConnectionStringSetting: "ConnectionStringSetting" is the Cosmos DB extension 3.x name of "connection"`,
		`bindings[0].leaseConnectionStringSetting: "leaseConnectionStringSetting" is the Cosmos DB extension 3.x name of "leaseConnection"`,
		`bindings[0].leaseCollectionName: "leaseCollectionName" is the Cosmos DB extension 3.x name of "leaseContainerName"`,
		`bindings[0].createLeaseCollectionIfNotExists: "createLeaseCollectionIfNotExists" is the Cosmos DB extension 3.x name of "createLeaseContainerIfNotExists"`,
		`bindings[0].leasesCollectionThroughput: "leasesCollectionThroughput" is the Cosmos DB extension 3.x name of "leasesContainerThroughput"`,
		`bindings[0].leaseCollectionPrefix: "leaseCollectionPrefix" is the Cosmos DB extension 3.x name of "leaseContainerPrefix"`,
		`: rename it to "containerName"`,
		`warning: Feed/function.json: bindings[0].checkpointInterval: "checkpointInterval" was removed in the Cosmos DB extension 4.x and is ignored`,
		`bindings[1].collectionName: "collectionName" is the Cosmos DB extension 3.x name of "containerName"; the 4.x extension (Functions v4) ignores it, so the binding would run without it: remove it ("containerName" is set)`,
		`bindings[1].collectionThroughput: "collectionThroughput" is the Cosmos DB extension 3.x name of "containerThroughput"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "3.x name of"); n != 9 {
		t.Errorf("%d rename lines, want 9 (one per old name):\n%s", n, out)
	}

	// documentDB is the Functions 1.x name of cosmosDB.
	f, _ = ParseFunctionJSON("Old", "Old/function.json", []byte(`{"bindings": [
		{"type": "timerTrigger", "name": "t", "schedule": "0 * * * * *"},
		{"type": "documentDB", "direction": "out", "name": "doc"}]}`))
	out = problemLines(CheckFunction(f, nil))
	if !strings.Contains(out, `Old/function.json: bindings[1].type: "documentDB" is the Functions 1.x name of the cosmosDB binding type: set "type": "cosmosDB"`) {
		t.Errorf("documentDB:\n%s", out)
	}
}

// The host refuses such an app at load too, not only `azbind validate`.
func TestCosmosV3NamesHostRefuses(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "Feed"), 0o755)
	os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version": "2.0"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "Feed", "function.json"), []byte(`{"bindings": [{"type": "cosmosDBTrigger", "name": "docs",
		"databaseName": "db", "containerName": "c", "connectionStringSetting": "Orders"}]}`), 0o644)
	_, err := LoadAppDir(dir, nil)
	var pe *ProblemsError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `Feed/function.json: bindings[0].connectionStringSetting: "connectionStringSetting" is the Cosmos DB extension 3.x name of "connection"`) {
		t.Errorf("LoadAppDir: %v", err)
	}
}

// Issue 23: unknown keys inside host.json extensions.* sections warn, one line each, with "did
// you mean"; keys of the older extensions name their replacement; nested objects are checked.
func TestHostJSONExtensionKeys(t *testing.T) {
	_, ps := ParseHostJSON("host.json", []byte(`{"version": "2.0", "extensions": {
		"queues": {"batchSizee": 8, "maxDequeueCount": 3},
		"eventHubs": {"maxBatchSize": 64, "maxEventBatchSize": 10, "initialOffsetOptions": {"tpye": "fromStart"},
		              "clientRetryOptions": {"maximumRetries": 3}},
		"serviceBus": {"maxConcurrentCall": 4, "messageHandlerOptions": {"maxConcurrentCalls": 4}},
		"cosmosDB": {"connectionMode": "Gateway", "protocol": "Https"},
		"someoneElses": {"anything": 1}}}`), nil)
	out := problemLines(ps)
	for _, want := range []string{
		"warning: host.json: extensions.queues.batchSizee: unknown key is ignored (did you mean batchSize?)",
		"warning: host.json: extensions.eventHubs.maxBatchSize: is a Functions v3 (older extension) key that the current extension ignores: use maxEventBatchSize",
		"warning: host.json: extensions.eventHubs.initialOffsetOptions.tpye: unknown key is ignored (did you mean type?)",
		"warning: host.json: extensions.serviceBus.maxConcurrentCall: unknown key is ignored (did you mean maxConcurrentCalls?)",
		"warning: host.json: extensions.serviceBus.messageHandlerOptions: is a Functions v3 (older extension) key",
		"warning: host.json: extensions.cosmosDB.protocol: unknown key is ignored",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"maxDequeueCount", "maxEventBatchSize", "maximumRetries", "connectionMode", "someoneElses"} {
		if strings.Contains(out, "."+not+":") {
			t.Errorf("%s warned about:\n%s", not, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 6 {
		t.Errorf("%d lines, want 6:\n%s", n, out)
	}
	for _, p := range ps {
		if !p.Warning {
			t.Errorf("an unknown key is an error: %s", p)
		}
	}
}

// Issue 23: an extensionBundle range the v4 host refuses gets a warning that says so.
func TestExtensionBundleRange(t *testing.T) {
	for _, c := range []struct {
		version string
		warn    bool
	}{
		{"[1.*, 2.0.0)", true},
		{"[2.*, 2.6.1)", true},
		{"[2.*, 2.6.1]", false},
		{"[2.*, 3.0.0)", false},
		{"[4.*, 5.0.0)", false},
		{"1.0.0", false}, // a bare version is a minimum
	} {
		_, ps := ParseHostJSON("host.json", []byte(`{"version": "2.0", "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "`+c.version+`"}}`), nil)
		out := problemLines(ps)
		got := strings.Contains(out, "which the Functions v4 host refuses")
		if got != c.warn {
			t.Errorf("%s: warned %v, want %v:\n%s", c.version, got, c.warn, out)
		}
		if got && !strings.HasPrefix(out, `warning: host.json: extensionBundle.version: the range "`+c.version+`" admits only bundles older than 2.6.1`) {
			t.Errorf("%s: %s", c.version, out)
		}
	}
}
