package servicebus_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/servicebus"
)

// The environment settings of TestRealNamespace.
const (
	realConnEnv  = "AZBIND_TEST_SERVICEBUS"       // a Service Bus connection string (Send and Listen rights)
	realQueueEnv = "AZBIND_TEST_SERVICEBUS_QUEUE" // an existing queue (default "azbind-test")
)

// The trigger and the output against a real namespace: the only test that may skip, when the
// connection setting is not in the environment.
func TestRealNamespace(t *testing.T) {
	cs := os.Getenv(realConnEnv)
	if cs == "" {
		t.Skipf("%s is not set: set it to a Service Bus connection string (and %s to an existing queue, default azbind-test) to run against a real namespace", realConnEnv, realQueueEnv)
	}
	q := os.Getenv(realQueueEnv)
	if q == "" {
		q = "azbind-test"
	}
	settings := connection.NewSettings(connection.FromMap("env", map[string]string{"AzureWebJobsServiceBus": cs}))
	c, err := connection.NewResolver(settings, nil).Resolve(context.Background(), "", connection.ServiceBus)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := servicebus.Check(ctx, c); err != nil {
		t.Fatalf("Check: %v", err)
	}
	logs := &logBuffer{}
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("azbind-%d", time.Now().UnixNano())
	got := make(chan string, 16)
	err = h.Func("Real", extension.Action(func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		got <- m.MessageID
		return nil
	}), servicebus.Trigger("m", q))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(runCtx) }()
	cl, err := servicebus.NewClient(c, servicebus.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(context.Background())
	snd, err := cl.NewSender(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.SendMessage(ctx, &azservicebus.Message{Body: []byte("real"), MessageID: &id}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Minute)
	for found := false; !found; {
		select {
		case mid := <-got:
			found = mid == id
		case <-deadline:
			t.Fatal("the message did not reach the handler within a minute")
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "SharedAccessKey=") {
		t.Error("the logs show the connection string")
	}
}
