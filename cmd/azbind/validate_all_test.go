package main

import (
	"strings"
	"testing"
)

// Issue 23: `azbind validate` prints every problem of every function, one line each. A broken
// function (unknown binding type, missing setting) no longer hides a Cosmos DB trigger that
// lacks its database and container, and both missing properties are named (Functions reports
// each function on its own).
func TestValidateEveryProblemOfEveryFunction(t *testing.T) {
	dir := t.TempDir()
	write := appWriter(t, dir)
	write("host.json", `{"version": "2.0"}`)
	write("local.settings.json", `{"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true",
		"CosmosDB": "AccountEndpoint=https://127.0.0.1:1/;AccountKey=C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==;"}}`)
	write("Broken/function.json", `{"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "work"},
		{"type": "sendGrid", "direction": "out", "name": "mail"},
		{"type": "queue", "direction": "out", "name": "o", "queueName": "%MissingSetting%"}]}`)
	write("Feed/function.json", `{"bindings": [{"type": "cosmosDBTrigger", "name": "docs", "connection": "CosmosDB"}]}`)
	write("Out/function.json", `{"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "work"},
		{"type": "cosmosDB", "direction": "out", "name": "doc", "connection": "CosmosDB"}]}`)
	code, out, _ := runCmd(t, "validate", dir)
	for _, want := range []string{
		`Broken/function.json: bindings[1].type: "sendGrid" is an Azure Functions`,
		`Broken/function.json: bindings[2].queueName:`,
		`Feed/function.json: bindings[0]: databaseName: is required`,
		`Feed/function.json: bindings[0]: containerName: is required`,
		`Out/function.json: bindings[1]: databaseName: is required`,
		`Out/function.json: bindings[1]: containerName: is required`,
		": 3 functions, 6 errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Count(out, l+"\n") > 1 {
			t.Errorf("line printed twice: %q", l)
		}
	}
}
