package eventgrid_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
)

// An Event Grid-triggered function declared through the Go API, served on the host's handler and
// delivered to the way Event Grid delivers: the validation handshake, then a notification.
func Example() {
	settings := connection.NewSettings(connection.FromMap("example", map[string]string{
		"host.systemKey.eventgrid_extension": "example-key", // or let the host generate one in AzureWebJobsStorage
	}))
	host, _ := extension.NewHost(extension.HostOptions{Settings: settings, Logger: slog.New(slog.DiscardHandler), HostID: "example", Storage: extension.NewMemoryStorage()})
	received := make(chan string, 1)
	_ = host.Func("OnBlobCreated",
		extension.Action(func(ctx context.Context, ev azeventgrid.Event) error {
			received <- *ev.EventType + " " + *ev.Subject
			return nil
		}),
		eventgrid.Trigger("event"),
	)
	srv := httptest.NewServer(host.Handler()) // or HostOptions.HTTPAddr: ":7071"
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- host.Run(ctx) }()

	url := srv.URL + "/runtime/webhooks/eventgrid?functionName=OnBlobCreated&code=example-key"
	deliver := func(eventType, body string) string {
		for {
			req, _ := http.NewRequest("POST", url, strings.NewReader(body))
			req.Header.Set("aeg-event-type", eventType)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound { // 404 until the trigger listens
					return strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, answer))
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	fmt.Println(deliver("SubscriptionValidation", `[{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"ABC-123"}}]`))
	fmt.Println(deliver("Notification", `[{"id":"2","subject":"/blobServices/default/containers/images/blobs/cat.png","eventType":"Microsoft.Storage.BlobCreated","eventTime":"2026-01-01T00:00:00Z","data":{"url":"https://acct.blob.core.windows.net/images/cat.png"},"dataVersion":""}]`))
	fmt.Println(<-received)
	cancel()
	<-done
	// Output:
	// 200 {"validationResponse":"ABC-123"}
	// 202
	// Microsoft.Storage.BlobCreated /blobServices/default/containers/images/blobs/cat.png
}
