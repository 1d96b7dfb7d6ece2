package eventgrid_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"
	"github.com/google/uuid"

	"github.com/azbind/azbind/extension"
)

// Publishing to real Event Grid topics through a host's eventGrid output. It runs only when the
// topics are configured:
//
//	AZBIND_TEST_EVENTGRID_TOPIC_ENDPOINT, AZBIND_TEST_EVENTGRID_TOPIC_KEY       (Event Grid schema topic)
//	AZBIND_TEST_EVENTGRID_CE_TOPIC_ENDPOINT, AZBIND_TEST_EVENTGRID_CE_TOPIC_KEY (CloudEvents schema topic)
//
// The topic accepting the publish (the invocation succeeds, the webhook answers 202) is the
// assertion: the service checks the key, the schema and the body.
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
			cloud := c.name == "CloudEventsSchema"
			th := startHost(t, hostConfig{settings: map[string]string{"TopicUri": ep, "TopicKey": key}, opts: azcore.ClientOptions{},
				declare: func(t *testing.T, h *extension.Host) {
					err := h.Func("Pub", extension.Reflect(func(ctx context.Context, in string, out *extension.Collector[any]) error {
						id := uuid.NewString()
						if cloud {
							ce, err := messaging.NewCloudEvent("/azbind/test", "Azbind.Test", map[string]any{"id": id}, nil)
							if err != nil {
								return err
							}
							return out.Add(ctx, ce)
						}
						return out.Add(ctx, azeventgrid.Event{ID: to.Ptr(id), Subject: to.Ptr("azbind/test"), EventType: to.Ptr("Azbind.Test"),
							EventTime: to.Ptr(time.Now().UTC()), DataVersion: to.Ptr("1.0"), Data: map[string]any{"id": id}})
					}), triggerSpec(), outputSpec())
					if err != nil {
						t.Fatal(err)
					}
				}})
			if r := th.post("Pub", "Notification", arr(egEvent("azure", "s", "{}"))); r.code != 202 {
				t.Fatalf("publish to the real topic failed: %d %s", r.code, r.body)
			}
		})
	}
}
