package cosmos

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// The bindings declared in function.json (JSON numbers for the intervals, %settings%) load and
// run: the trigger feeds an output to another container.
func TestFunctionJSON(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version":"2.0","extensions":{"cosmosDB":{"connectionMode":"Gateway","userAgentSuffix":"azbind-test"}}}`), 0o600))
	must(os.Mkdir(filepath.Join(dir, "Copy"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "Copy", "function.json"), []byte(`{"bindings":[
		{"type":"cosmosDBTrigger","name":"docs","direction":"in","connection":"CosmosDB","databaseName":"`+e.db+`","containerName":"%Source%",
		 "leaseContainerName":"leases","startFromBeginning":true,"feedPollDelay":30,"leaseAcquireInterval":100,"leaseRenewInterval":200,"leaseExpirationInterval":1500,"maxItemsPerInvocation":10},
		{"type":"cosmosDB","name":"$return","direction":"out","databaseName":"`+e.db+`","containerName":"copies","createIfNotExists":true,"partitionKey":"/pk"}
	]}`), 0o600))
	h := newHost(t, hostOpts{})
	h.Handle("Copy", extension.Reflect(func(ctx context.Context, docs []testDoc) ([]testDoc, error) {
		for i := range docs {
			docs[i].ID = "copy-" + docs[i].ID
		}
		return docs, nil
	}))
	e.write(docs(0, 5)...)
	must(h.LoadAppDir(dir))
	run(t, h)
	copies, _ := e.client.NewContainer(e.db, "copies")
	eventually(t, "5 copies", func() bool { return len((&env{t: t, leases: copies}).allDocs()) == 5 })
}

// allDocs lists every document of the env's lease container slot (used for other containers).
func (e *env) allDocs() []string {
	var out []string
	pager := e.leases.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			return nil
		}
		for _, it := range page.Items {
			out = append(out, string(it))
		}
	}
	return out
}

// Configuration problems of a function.json are reported by Verify, one per binding.
func TestFunctionJSONErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version":"2.0","extensions":{"cosmosDB":{"connectionMode":"Fast"}}}`), 0o600)
	os.Mkdir(filepath.Join(dir, "Bad"), 0o755)
	os.WriteFile(filepath.Join(dir, "Bad", "function.json"), []byte(`{"bindings":[
		{"type":"cosmosDBTrigger","name":"docs","direction":"in","databaseName":"db","containerName":"items","feedPollDelay":"soon"}
	]}`), 0o600)
	h := newHost(t, hostOpts{})
	if err := h.LoadAppDir(dir); err != nil {
		t.Fatal(err)
	}
	err := h.Verify(context.Background())
	if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "feedPollDelay") {
		t.Errorf("Verify: %v", err)
	}
}
