package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/azbind/azbind/cosmos"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/servicebus"
)

const (
	sbQueue = "idle-sb"
	ehHub   = "idle-eh"
	cosDB   = "idle"
)

// startSeven starts the amqp-peer (a Service Bus queue, an event hub) and the cosmos launcher
// (a monitored and a lease container) and adds their connection settings to values
// ("cosmosHost" is the launcher's host:port, for the counting transport).
func startSeven(ctx context.Context, values map[string]string, cnt *counter) (func(), error) {
	peer, err := amqppeer.Launch(&amqppeer.Config{Queues: []amqppeer.Queue{{Name: sbQueue}}, EventHubs: []amqppeer.EventHub{{Name: ehHub, Partitions: 2}}})
	if err != nil {
		return nil, err
	}
	feed, err := emulator.LaunchCosmosFeed(&emulator.CosmosFeedOptions{PlainHTTP: true})
	if err != nil {
		peer.Stop()
		return nil, err
	}
	stop := func() { _ = feed.Stop(); _ = peer.Stop() }
	cred, err := azcosmos.NewKeyCredential(feed.Key)
	if err != nil {
		stop()
		return nil, err
	}
	cl, err := azcosmos.NewClientWithKey(feed.Endpoint, cred, nil)
	if err != nil {
		stop()
		return nil, err
	}
	if _, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: cosDB}, nil); err != nil {
		stop()
		return nil, err
	}
	db, _ := cl.NewDatabase(cosDB)
	for name, pk := range map[string]string{"items": "/pk", "leases": "/id"} {
		if _, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: name, PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{pk}}}, nil); err != nil {
			stop()
			return nil, err
		}
	}
	u, _ := url.Parse(feed.Endpoint)
	values["ServiceBusConn"], values["EventHubConn"], values["CosmosDB"], values["cosmosHost"] = peer.ConnectionString, peer.ConnectionString, feed.ConnectionString, u.Host
	return stop, nil
}

// declareSeven adds one function of each of the other four connectors.
func declareSeven(h *extension.Host) error {
	nop := extension.Action(func(context.Context, []byte) error { return nil })
	if err := h.Func("OnServiceBus", nop, servicebus.Trigger("m", sbQueue, map[string]any{"connection": "ServiceBusConn"})); err != nil {
		return err
	}
	if err := h.Func("OnEventHub", nop, eventhubs.Trigger("e", ehHub, map[string]any{"connection": "EventHubConn"})); err != nil {
		return err
	}
	if err := h.Func("OnCosmos", extension.Action(func(context.Context, []map[string]any) error { return nil }), cosmos.Trigger("docs", cosDB, "items")); err != nil {
		return err
	}
	return h.Func("OnEventGrid", extension.Action(func(context.Context, map[string]any) error { return nil }), eventgrid.Trigger("ev"))
}

// countingTransport sends requests with the default client and counts those to host.
type countingTransport struct {
	c    *counter
	host string
}

func (t *countingTransport) Do(r *http.Request) (*http.Response, error) {
	if t.host != "" && r.URL.Host == t.host {
		t.c.add(cosmosKind(r))
	}
	return http.DefaultClient.Do(r)
}

// cosmosKind names a Cosmos DB request: change-feed read, lease operation or other.
func cosmosKind(r *http.Request) string {
	p := strings.Trim(r.URL.Path, "/")
	switch {
	case r.Header.Get("A-IM") != "":
		return "cosmos: change feed read"
	case strings.Contains(p, "/colls/leases/docs"):
		if r.Method == http.MethodPost && r.Header.Get("x-ms-documentdb-isquery") != "" {
			return "cosmos: lease list (query)"
		}
		return fmt.Sprintf("cosmos: lease %s", strings.ToLower(r.Method))
	}
	return fmt.Sprintf("cosmos: %s %s", r.Method, p)
}
