package azhttp_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/azbind/azbind/azhttp"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/testlog"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/queue/queuetest"
)

// MultipleOutputBindings (the isolated worker guide's MyOutputType), in Go: the HTTP response
// and a queue message in one return value. The queue name uses a route value, a query parameter
// and a JSON body member as binding data (Functions' HttpTriggerAttributeBindingProvider).
type myOutputType struct {
	Result      azhttp.Response `azbind:"res"`
	MessageText string          `azbind:"msg"`
}

func TestRouteValuesIntoQueueOutput(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	env, err := queuetest.New(az.ConnectionString)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	h, err := extension.NewHost(hostOptions(map[string]string{"AzureWebJobsStorage": az.ConnectionString}, logs))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Func("MultipleOutputBindings", extension.Func(func(_ context.Context, r *http.Request) (myOutputType, error) {
		id := driver.RouteValues(r)["id"]
		return myOutputType{Result: azhttp.Text(http.StatusAccepted, "queued "+id), MessageText: "order " + id}, nil
	}),
		azhttp.Trigger("req", &azhttp.TriggerOptions{Route: "orders/{id:int}", Methods: []string{"post"}, AuthLevel: driver.AuthAnonymous}),
		azhttp.Output("res"),
		queue.Output("msg", "orders-{id}-{region}-{sku}"))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, h, logs, "POST /api/orders/0") // 500: no {sku}
	// The body member "id" loses to the route value, as in Functions.
	r := s.do(t, "POST", "/api/orders/42?region=eu", "application/json", `{"sku": "a1", "id": "body"}`)
	if r.code != http.StatusAccepted || r.body != "queued 42" {
		t.Fatalf("POST = %d %q\n%s", r.code, r.body, logs)
	}
	// The outputs are flushed before the reply is written: the message is there now.
	if got := env.PeekDecoded(t, "orders-42-eu-a1"); !slices.Equal(got, []string{"order 42"}) {
		t.Errorf("orders-42-eu-a1 holds %q", got)
	}
	// A failed queue write fails the invocation: 500, and no 202 for a message never written.
	r = s.do(t, "POST", "/api/orders/43?region=EU_bad", "application/json", `{"sku": "a1"}`)
	if r.code != http.StatusInternalServerError {
		t.Errorf("POST with an invalid queue name = %d %q; want 500", r.code, r.body)
	}
}
