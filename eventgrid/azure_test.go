package eventgrid_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"
	"github.com/google/uuid"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// Publishing to real Event Grid topics. It runs only when the topics are configured:
//
//	AZBIND_TEST_EVENTGRID_TOPIC_ENDPOINT, AZBIND_TEST_EVENTGRID_TOPIC_KEY      (Event Grid schema topic)
//	AZBIND_TEST_EVENTGRID_CE_TOPIC_ENDPOINT, AZBIND_TEST_EVENTGRID_CE_TOPIC_KEY (CloudEvents schema topic, optional)
//
// The topic accepting the request (2xx) is the assertion: the service validates the schema, the
// key and the body shape.
func TestRealAzurePublish(t *testing.T) {
	for _, c := range []struct{ name, ep, key string }{
		{"EventGridSchema", "AZBIND_TEST_EVENTGRID_TOPIC_ENDPOINT", "AZBIND_TEST_EVENTGRID_TOPIC_KEY"},
		{"CloudEventsSchema", "AZBIND_TEST_EVENTGRID_CE_TOPIC_ENDPOINT", "AZBIND_TEST_EVENTGRID_CE_TOPIC_KEY"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ep, key := os.Getenv(c.ep), os.Getenv(c.key)
			if ep == "" || key == "" {
				t.Skipf("set %s and %s to publish to a real Event Grid topic", c.ep, c.key)
			}
			settings := connection.NewSettings(connection.FromMap("env", map[string]string{"TopicUri": ep, "TopicKey": key}))
			h, err := extension.NewHost(extension.HostOptions{Settings: settings, HostID: "egazure", Storage: extension.NewMemoryStorage(), Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
			bc := &driver.BindContext{Function: "Azure", Spec: eventgrid.Output("out", keyProps), Host: h.Services()}
			bt, _, _ := driver.Lookup("eventGrid")
			out, err := bt.NewOutput(context.Background(), bc)
			if err != nil {
				t.Fatal(err)
			}
			sink, err := out.Open(context.Background(), &driver.FunctionContext{FunctionName: "Azure"})
			if err != nil {
				t.Fatal(err)
			}
			id := uuid.NewString()
			if c.name == "EventGridSchema" {
				sink.Add(context.Background(), azeventgrid.Event{ID: to.Ptr(id), Subject: to.Ptr("azbind/test"), EventType: to.Ptr("Azbind.Test"), EventTime: to.Ptr(time.Now().UTC()), DataVersion: to.Ptr("1.0"), Data: map[string]any{"id": id}})
			} else {
				ce, _ := messaging.NewCloudEvent("/azbind/test", "Azbind.Test", map[string]any{"id": id}, nil)
				sink.Add(context.Background(), ce)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := sink.Flush(ctx); err != nil {
				t.Fatalf("publish: %v", err)
			}
		})
	}
}
