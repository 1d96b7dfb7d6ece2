package eventhubs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	_ "github.com/azbind/azbind/internal/memconn" // memTrigger drives output-only functions
)

func verify(t *testing.T, settings map[string]string, ext map[string]any, bindings ...*extension.BindingSpec) error {
	t.Helper()
	kv := map[string]string{"EventHubConn": peer.ConnectionString}
	for k, v := range settings {
		kv[k] = v
	}
	h, err := extension.NewHost(extension.HostOptions{
		Settings:   connection.NewSettings(connection.FromMap("test", kv)),
		Logger:     slog.New(slog.DiscardHandler),
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"eventHubs": ext}},
		HostID:     "ehverify",
	})
	if err != nil {
		t.Fatal(err)
	}
	handler := extension.Action(func(ctx context.Context, s string) error { return nil })
	if len(bindings) > 1 {
		handler = extension.Func(func(ctx context.Context, s string) (string, error) { return s, nil })
	}
	if err := h.Func("F", handler, bindings...); err != nil {
		return err
	}
	return h.Verify(context.Background())
}

// Configuration problems are typed errors naming the field, without secrets.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	storage := map[string]string{"AzureWebJobsStorage": azurite.ConnectionString}
	conn := map[string]any{"connection": "EventHubConn"}
	cases := []struct {
		name     string
		settings map[string]string
		ext      map[string]any
		b        []*extension.BindingSpec
		field    string
	}{
		{"no hub", storage, nil, []*extension.BindingSpec{eventhubs.Trigger("s", "", conn)}, "eventHubName"},
		{"hub expression", storage, nil, []*extension.BindingSpec{eventhubs.Trigger("s", "{x}", conn)}, "eventHubName"},
		{"batch size", storage, map[string]any{"maxEventBatchSize": 0}, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, "maxEventBatchSize"},
		{"min above max", storage, map[string]any{"maxEventBatchSize": 5, "minEventBatchSize": 6}, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, "minEventBatchSize"},
		{"max wait", storage, map[string]any{"maxWaitTime": "00:11:00"}, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, "maxWaitTime"},
		{"frequency", storage, map[string]any{"batchCheckpointFrequency": 0}, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, "batchCheckpointFrequency"},
		{"offset type", storage, map[string]any{"initialOffsetOptions": map[string]any{"type": "fromMiddle"}}, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, "initialOffsetOptions.type"},
		{"enqueued time", storage, map[string]any{"initialOffsetOptions": map[string]any{"type": "fromEnqueuedTime", "enqueuedTimeUtc": "yesterday"}}, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, "initialOffsetOptions.enqueuedTimeUtc"},
		{"retry mode", storage, map[string]any{"clientRetryOptions": map[string]any{"mode": "sometimes"}}, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, "clientRetryOptions.mode"},
		{"no storage", nil, nil, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn)}, ""},
		{"no connection", storage, nil, []*extension.BindingSpec{eventhubs.Trigger("s", "h", map[string]any{"connection": "Missing"})}, "connection"},
		{"consumer group number", storage, nil, []*extension.BindingSpec{eventhubs.Trigger("s", "h", map[string]any{"connection": "EventHubConn", "consumerGroup": float64(5)})}, "consumerGroup"}, // issue 25: hung silently
		{"output no hub", storage, nil, []*extension.BindingSpec{eventhubs.Trigger("s", "h", conn), eventhubs.Output("$return", "", conn)}, "eventHubName"},
	}
	for _, tc := range cases {
		err := verify(t, tc.settings, tc.ext, tc.b...)
		var ce *driver.ConfigError
		if !errors.Is(err, driver.ErrInvalidConfig) || !errors.As(err, &ce) {
			t.Errorf("%s: %v, want a *driver.ConfigError", tc.name, err)
			continue
		}
		if tc.field != "" && !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.field)
		}
		if strings.Contains(err.Error(), peer.Key) {
			t.Errorf("%s: error shows the key", tc.name)
		}
	}
	// A bad trigger setting does not fail an output.
	if err := verify(t, storage, map[string]any{"maxEventBatchSize": 0}, driver.Binding("memTrigger", "s", driver.DirIn, driver.Props{"queue": "eh-config"}),
		eventhubs.Output("$return", "h", conn)); err != nil {
		t.Errorf("output with a bad trigger setting: %v", err)
	}
	// A valid declaration verifies; EntityPath stands in for eventHubName.
	if err := verify(t, map[string]string{"AzureWebJobsStorage": azurite.ConnectionString, "HubConn": peer.EventHubConnectionString("somehub")}, nil,
		eventhubs.Trigger("s", "", map[string]any{"connection": "HubConn", "consumerGroup": "cg"}), eventhubs.Output("$return", "", map[string]any{"connection": "HubConn"})); err != nil {
		t.Errorf("valid declaration: %v", err)
	}
	// Identity: fullyQualifiedNamespace and a credential.
	if err := verify(t, map[string]string{"AzureWebJobsStorage": azurite.ConnectionString, "IdConn__fullyQualifiedNamespace": "myns.servicebus.windows.net", "IdConn__credential": "managedidentity"}, nil,
		eventhubs.Trigger("s", "h", map[string]any{"connection": "IdConn"}), eventhubs.Output("$return", "h2", map[string]any{"connection": "IdConn"})); err != nil {
		t.Errorf("identity declaration: %v", err)
	}
}

// Check (azbind connection resolve --check) proves the credential with one call.
func TestCheck(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	res := connection.NewResolver(connection.NewSettings(connection.FromMap("test", map[string]string{
		"Good": peer.ConnectionString, "GoodHub": peer.EventHubConnectionString(hub), "Bad": peer.WrongKeyConnectionString(),
	})), nil)
	check, ok := driver.CheckFor(connection.EventHubs)
	if !ok {
		t.Fatal("no Check registered for Event Hubs")
	}
	for name, wantOK := range map[string]bool{"Good": true, "GoodHub": true, "Bad": false} {
		c, err := res.Resolve(context.Background(), name, connection.EventHubs)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = check(ctx, c)
		cancel()
		if (err == nil) != wantOK {
			t.Errorf("%s: Check = %v, want ok=%v", name, err, wantOK)
		}
		if err != nil && strings.Contains(err.Error(), peer.Key) {
			t.Errorf("%s: error shows the key", name)
		}
	}
}

// The peer dropping every connection mid-run: the trigger recovers and nothing is lost.
func TestPeerDroppedRecovers(t *testing.T) { // not parallel: the fault hits every client
	hub := newHub(t, 2)
	rec := &recorder{}
	startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("Drop", collect(rec), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	send(t, hub, "0", "a0", "a1")
	send(t, hub, "1", "b0")
	waitFor(t, 30*time.Second, "before the drop", func() bool { return rec.len() == 3 })
	if err := peer.DropConnections(tctx(t)); err != nil {
		t.Fatal(err)
	}
	send(t, hub, "0", "a2", "a3")
	send(t, hub, "1", "b1")
	waitFor(t, 60*time.Second, "after the drop", func() bool {
		seen := map[string]bool{}
		for _, b := range rec.all() {
			seen[b] = true
		}
		return seen["a2"] && seen["a3"] && seen["b1"]
	})
}

// Against a real namespace when AZBIND_TEST_EVENTHUBS (a connection string with EntityPath) and
// AZBIND_TEST_STORAGE (a storage connection string) are set: output, then trigger, round trip.
func TestRealNamespace(t *testing.T) {
	cs, st := os.Getenv("AZBIND_TEST_EVENTHUBS"), os.Getenv("AZBIND_TEST_STORAGE")
	if cs == "" || st == "" {
		t.Skip("set AZBIND_TEST_EVENTHUBS (an Event Hubs connection string with EntityPath) and AZBIND_TEST_STORAGE (a storage connection string) to run against a real namespace")
	}
	marker := fmt.Sprintf("azbind-%d", time.Now().UnixNano())
	got := make(chan string, 1000)
	h, err := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("test", map[string]string{"AzureWebJobsStorage": st, "Hub": cs})),
		Logger:   slog.New(slog.DiscardHandler),
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"eventHubs": {
			"initialOffsetOptions": map[string]any{"type": "fromEnqueuedTime", "enqueuedTimeUtc": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}}}},
		HostID: "ehreal",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Func("Real", extension.Action(func(ctx context.Context, s string) error { got <- s; return nil }),
		eventhubs.Trigger("s", "", map[string]any{"connection": "Hub", "consumerGroup": os.Getenv("AZBIND_TEST_EVENTHUBS_GROUP")})); err != nil {
		t.Fatal(err)
	}
	if err := h.Func("Echo", extension.Func(func(ctx context.Context, s string) (string, error) { return "echo-" + s, nil }),
		eventhubs.Trigger("s", "", map[string]any{"connection": "Hub", "consumerGroup": os.Getenv("AZBIND_TEST_EVENTHUBS_GROUP2")}),
		eventhubs.Output("$return", "", map[string]any{"connection": "Hub"})); err != nil {
		t.Skip("needs a second consumer group in AZBIND_TEST_EVENTHUBS_GROUP2: ", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	p, err := azeventhubs.NewProducerClientFromConnectionString(cs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if err := eventhubs.Send(tctx(t), p, nil, []*azeventhubs.EventData{{Body: []byte(marker)}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Minute)
	seen := map[string]bool{}
	for !seen[marker] || !seen["echo-"+marker] {
		select {
		case s := <-got:
			seen[s] = true
		case <-deadline:
			t.Fatalf("marker round trip not seen: %v", seen[marker])
		}
	}
}
