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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/cosmos"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/hoststore"
)

// `azbind deadletters list|show|replay APPDIR` serves both stream triggers from the one layout
// (issue 21), and the legacy Event Hubs layout; replay needs no --connection: it uses the
// function's connection (recorded, or from APPDIR's function.json) or the service's default
// (CosmosDB). `azbind eventhubs deadletters` stays an alias. No key is printed.
func TestDeadLettersCLI(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	peer := emulator.StartAMQPPeer(t, &emulator.AMQPPeerOptions{Entities: amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: "telemetry", Partitions: 2}}}})
	feed := emulator.StartCosmosFeed(t, &emulator.CosmosFeedOptions{PlainHTTP: true})
	ctx := context.Background()
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"AzureWebJobsStorage": az.ConnectionString,
		"EventHubConn": peer.ConnectionString, "CosmosDB": feed.ConnectionString}))
	res := connection.NewResolver(settings, nil)
	sc, err := res.Resolve(ctx, "AzureWebJobsStorage", connection.Blob)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hoststore.Open(sc)
	if err != nil {
		t.Fatal(err)
	}

	// The app folder: settings, and Ingest's function.json naming its connection.
	dir := t.TempDir()
	b, _ := json.Marshal(map[string]any{"Values": map[string]string{"AzureWebJobsStorage": az.ConnectionString,
		"EventHubConn": peer.ConnectionString, "CosmosDB": feed.ConnectionString}})
	must(t, os.WriteFile(filepath.Join(dir, "local.settings.json"), b, 0o600))
	must(t, os.MkdirAll(filepath.Join(dir, "Ingest"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "Ingest", "function.json"), []byte(`{"bindings":[{"type":"eventHubTrigger","name":"e","direction":"in","eventHubName":"telemetry","connection":"EventHubConn"}]}`), 0o600))

	// An Event Hubs dead letter in the one layout (connection recorded).
	first, last := int64(40), int64(41)
	md, _ := json.Marshal(eventhubs.EventMetadata{SequenceNumber: 40, Properties: map[string]any{"kind": "reading"}})
	ehDL := &driver.DeadLetter{Function: "Ingest", Trigger: eventhubs.TriggerType, HostID: "app-1", Connection: "EventHubConn",
		Time: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), Reason: "handler failed: bad reading",
		Source: driver.DeadLetterSource{Account: "ns", Entity: "telemetry", ConsumerGroup: "$Default", Partition: "1", FirstSequence: &first, LastSequence: &last},
		Events: []driver.DeadLetterEvent{{Body: []byte(`{"t":1}`), Metadata: md}, {Body: []byte(`{"t":2}`)}}}
	must(t, driver.WriteDeadLetter(ctx, hs, ehDL, "p1-40-41"))
	// One of the legacy layout (no connection, no host id): found through function.json.
	legacyKey := eventhubs.LegacyDeadLetterPrefix + "Ingest/ns/telemetry/$default/0/00000000000000000007-00000000000000000007"
	legacy, _ := json.Marshal(map[string]any{"function": "Ingest", "eventHubName": "telemetry", "consumerGroup": "$Default", "partitionId": "0",
		"firstSequenceNumber": 7, "lastSequenceNumber": 7, "error": "old failure", "events": []map[string]any{{"body": []byte("legacy"), "sequenceNumber": 7}}})
	_, err = hs.Put(ctx, legacyKey, driver.Record{Data: legacy}, driver.Cond{})
	must(t, err)
	// A Cosmos DB dead letter (no connection: the default CosmosDB) of two documents, one of
	// which changed since.
	cl := cosmosClient(t, feed)
	must(t, ensureCosmos(ctx, cl))
	items, _ := cl.NewContainer("shop", "orders")
	put := func(doc string) map[string]any {
		r, err := items.UpsertItem(ctx, azcosmos.NewPartitionKeyString("c1"), []byte(doc), &azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
		must(t, err)
		var m map[string]any
		must(t, json.Unmarshal(r.Value, &m))
		return m
	}
	o1, o2 := put(`{"id":"o1","pk":"c1","n":1}`), put(`{"id":"o2","pk":"c1","n":1}`)
	put(`{"id":"o2","pk":"c1","n":2}`) // o2 changed after it failed
	raw1, _ := json.Marshal(o1)
	raw2, _ := json.Marshal(o2)
	cosDL := &driver.DeadLetter{Function: "Orders", Trigger: cosmos.TriggerType, HostID: "app-1", Time: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
		Reason: "no stock", Source: driver.DeadLetterSource{Database: "shop", Entity: "orders", FeedRange: "0", NextContinuation: "12"},
		Events: []driver.DeadLetterEvent{{Document: raw1}, {Document: raw2}}}
	must(t, driver.WriteDeadLetter(ctx, hs, cosDL, "0@12"))

	cli := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != wantCode {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, wantCode, out.String(), errb.String())
		}
		for _, s := range []string{out.String(), errb.String()} {
			if strings.Contains(s, emulator.DevAccountKey) || strings.Contains(s, peer.Key) {
				t.Fatalf("%v printed a key", args)
			}
		}
		return out.String(), errb.String()
	}
	out, errs := cli(0, "deadletters", "list", dir)
	if got := strings.Fields(out); len(got) != 3 || got[0] != ehDL.Key || got[1] != cosDL.Key || got[2] != legacyKey || !strings.Contains(errs, "3 dead-lettered") {
		t.Errorf("list: %q %q", out, errs)
	}
	if out, _ := cli(0, "deadletters", "list", dir, "--function", "ingest"); len(strings.Fields(out)) != 2 {
		t.Errorf("list --function ingest: %q", out)
	}
	if out, _ := cli(0, "deadletters", "list", dir, "--host", "other"); len(strings.Fields(out)) != 1 { // only the legacy one (no host id in its key)
		t.Errorf("list --host other: %q", out)
	}
	out, _ = cli(0, "deadletters", "show", dir, ehDL.Key)
	for _, want := range []string{"function:   Ingest (eventHubTrigger, host app-1)", "partition 1", "40–41 (2 event(s))", "handler failed: bad reading", `event 1: {"t":2}`} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	out, _ = cli(0, "deadletters", "show", dir, cosDL.Key)
	for _, want := range []string{"cosmosDBTrigger", "container:  shop/orders (lease 0)", "(2 document(s))", "no stock", `"id":"o1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if _, errs := cli(1, "deadletters", "show", dir, "deadletters/none"); !strings.Contains(errs, "not found") {
		t.Errorf("show of a missing key: %q", errs)
	}

	// Replay, without --connection: Event Hubs (recorded connection, then the alias with the
	// legacy letter and function.json), Cosmos DB (the default connection).
	if out, _ := cli(0, "deadletters", "replay", dir, ehDL.Key); !strings.Contains(out, "replayed 2 event(s) to telemetry partition 1") {
		t.Errorf("replay: %q", out)
	}
	if out, _ := cli(0, "eventhubs", "deadletters", "replay", dir, legacyKey); !strings.Contains(out, "replayed 1 event(s) to telemetry partition 0") {
		t.Errorf("alias replay: %q", out)
	}
	ec, err := res.Resolve(ctx, "EventHubConn", connection.EventHubs)
	must(t, err)
	if got := partitionBodies(t, ec, "1", 2); got != `[{"t":1} {"t":2}]` {
		t.Errorf("partition 1 holds %s", got)
	}
	if got := partitionBodies(t, ec, "0", 1); got != `[legacy]` {
		t.Errorf("partition 0 holds %s", got)
	}
	out, _ = cli(0, "deadletters", "replay", dir, cosDL.Key)
	if !strings.Contains(out, "replayed 1 document(s) to shop/orders") || !strings.Contains(out, "skipped 1 document(s) changed or deleted since") || !strings.Contains(out, "o2") {
		t.Errorf("cosmos replay: %q", out)
	}
	r1, err := items.ReadItem(ctx, azcosmos.NewPartitionKeyString("c1"), "o1", nil)
	must(t, err)
	if r1.ETag == azcore.ETag(o1["_etag"].(string)) {
		t.Error("o1 was not rewritten")
	}
	r2, err := items.ReadItem(ctx, azcosmos.NewPartitionKeyString("c1"), "o2", nil)
	must(t, err)
	if !strings.Contains(string(r2.Value), `"n":2`) {
		t.Errorf("o2's newer state was overwritten: %s", r2.Value)
	}
	if out, _ := cli(0, "deadletters", "list", dir); strings.TrimSpace(out) != "" {
		t.Errorf("dead letters left after replay: %q", out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func cosmosClient(t *testing.T, feed *emulator.CosmosFeed) *azcosmos.Client {
	t.Helper()
	c, err := connection.NewResolver(connection.NewSettings(connection.FromMap("t", map[string]string{"CosmosDB": feed.ConnectionString})), nil).Resolve(context.Background(), "CosmosDB", connection.Cosmos)
	must(t, err)
	cl, err := cosmos.NewClient(c)
	must(t, err)
	return cl
}

func ensureCosmos(ctx context.Context, cl *azcosmos.Client) error {
	if _, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "shop"}, nil); err != nil {
		return err
	}
	db, _ := cl.NewDatabase("shop")
	_, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "orders", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	return err
}

// partitionBodies reads n events from the start of a telemetry partition.
func partitionBodies(t *testing.T, c *connection.Connection, pid string, n int) string {
	t.Helper()
	cc, err := eventhubs.NewConsumerClient(c, "telemetry", azeventhubs.DefaultConsumerGroup, nil)
	must(t, err)
	defer cc.Close(context.Background())
	pc, err := cc.NewPartitionClient(pid, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to(true)}})
	must(t, err)
	defer pc.Close(context.Background())
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		evs, _ := pc.ReceiveEvents(ctx, n-len(got), nil)
		cancel()
		for _, e := range evs {
			got = append(got, string(e.Body))
		}
	}
	b, _ := json.Marshal(got)
	return strings.NewReplacer(`","`, " ", `["`, "[", `"]`, "]", `\"`, `"`).Replace(string(b))
}

// (to is declared in peek.go)
