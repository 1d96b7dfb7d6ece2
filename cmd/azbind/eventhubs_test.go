package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/hoststore"
)

// A dead-lettered Event Hubs batch is where a user can find it: `azbind eventhubs deadletters`
// lists it by function and shows its error and events, from the host storage in
// AzureWebJobsStorage, without printing the account key.
func TestEventHubsDeadLettersCLI(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	ctx := context.Background()
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"AzureWebJobsStorage": az.ConnectionString}))
	c, err := connection.NewResolver(settings, nil).Resolve(ctx, "AzureWebJobsStorage", connection.Blob)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hoststore.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	key := eventhubs.DeadLetterPrefix + "Ingest/ns.servicebus.windows.net/telemetry/$default/2/40-41"
	dl := eventhubs.DeadLetter{Function: "Ingest", FullyQualifiedNamespace: "ns.servicebus.windows.net", EventHubName: "telemetry",
		ConsumerGroup: "$Default", PartitionID: "2", FirstSequenceNumber: 40, LastSequenceNumber: 41,
		Error: "handler failed: bad reading", FailedAt: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		Events: []eventhubs.DeadLetterEvent{{Body: []byte(`{"t":1}`), SequenceNumber: 40}, {Body: []byte(`{"t":2}`), SequenceNumber: 41}}}
	data, _ := json.Marshal(dl)
	if _, err := hs.Put(ctx, key, driver.Record{Data: data}, driver.Cond{}); err != nil {
		t.Fatal(err)
	}
	other := eventhubs.DeadLetterPrefix + "Other/ns/h/$default/0/1-1"
	if _, err := hs.Put(ctx, other, driver.Record{Data: data}, driver.Cond{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ls := filepath.Join(dir, "local.settings.json")
	b, _ := json.Marshal(map[string]any{"Values": map[string]string{"AzureWebJobsStorage": az.ConnectionString}})
	if err := os.WriteFile(ls, b, 0o600); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := run([]string{"eventhubs", "deadletters", "list", "--function", "Ingest", "--settings", ls}, &out, &errb); code != 0 {
		t.Fatalf("list: exit %d: %s%s", code, out.String(), errb.String())
	}
	if strings.TrimSpace(out.String()) != key || !strings.Contains(errb.String(), "1 dead-lettered batch") {
		t.Errorf("list printed %q / %q, want only %q", out.String(), errb.String(), key)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"eventhubs", "deadletters", "show", key, "--settings", ls}, &out, &errb); code != 0 {
		t.Fatalf("show: exit %d: %s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"function:   Ingest", "partition 2", "40–41 (2 event(s))", "handler failed: bad reading", `event 1: {"t":2}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"eventhubs", "deadletters", "show", "eventhubs-deadletters/none", "--settings", ls}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "not found") {
		t.Errorf("show of a missing key: exit %d, stderr %q", code, errb.String())
	}
	for _, s := range []string{out.String(), errb.String()} {
		if strings.Contains(s, emulator.DevAccountKey) {
			t.Fatal("the account key was printed")
		}
	}
}
