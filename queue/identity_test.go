package queue_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/identitytest"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/queue/queuetest"
)

// An identity-based connection (Conn__queueServiceUri + managed identity) drives the trigger and
// the output against Azurite over HTTPS with OAuth.
func TestHostIdentityConnection(t *testing.T) {
	az := emulator.StartAzurite(t, &emulator.AzuriteOptions{OAuth: true})
	ids := identitytest.Start(t, nil)
	ids.SetEnv(t)

	// Arrange the queues with shared key (allowed on the OAuth instance too).
	admin, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: az.HTTPClient}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{"idin", "idout"} {
		if _, err := admin.CreateQueue(ctx, q, nil); err != nil {
			t.Fatal(err)
		}
	}

	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"MyQueues__queueServiceUri": az.QueueEndpoint}))
	h, err := extension.NewHost(extension.HostOptions{
		Settings:    settings,
		Connections: connection.NewResolver(settings, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: az.HTTPClient}}),
		Logger:      slog.New(slog.DiscardHandler),
		HostConfig:  &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"queues": {"maxPollingInterval": "00:00:00.2"}}},
		HostID:      "idtest",
	})
	if err != nil {
		t.Fatal(err)
	}
	conn := driver.Props{"connection": "MyQueues"}
	if err := h.Func("Echo", extension.Func(func(ctx context.Context, s string) (string, error) { return "echo:" + s, nil }),
		queue.Trigger("s", "idin", conn), queue.Output("$return", "idout", conn)); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	if _, err := admin.NewQueueClient("idin").EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte("hi")), nil); err != nil {
		t.Fatal(err)
	}
	var got string
	queuetest.WaitFor(t, 30*time.Second, "echo in idout", func() bool {
		resp, err := admin.NewQueueClient("idout").PeekMessages(ctx, nil)
		if err != nil || len(resp.Messages) == 0 {
			return false
		}
		got = *resp.Messages[0].MessageText
		return true
	})
	if b, _ := base64.StdEncoding.DecodeString(got); string(b) != "echo:hi" {
		t.Errorf("output = %q", got)
	}
	// The connection has no key: every request above was authorized by a bearer token from the
	// loopback managed-identity endpoint (DefaultAzureCredential). (MSAL caches
	// managed-identity tokens process-wide, so the token server may not be called again under -count.)
	c, err := connection.NewResolver(settings, nil).Resolve(ctx, "MyQueues", connection.Queue)
	if err != nil || c.Kind != connection.KindIdentity {
		t.Errorf("resolved %+v (%v), want an identity connection", c, err)
	}
}
