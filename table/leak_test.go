package table

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
)

// A host with a trigger, a table input and a table output, started and stopped, leaves no
// goroutine of the connector and no shared value (the per-connection account) behind.
func TestHostLeavesNothingBehind(t *testing.T) {
	e := newEnv(t)
	orders := e.newTable("leak")
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
	for i := range 3 {
		queue := fmt.Sprintf("tblleak%d", tableSeq.Add(1))
		host, err := extension.NewHost(extension.HostOptions{
			Settings:   connection.NewSettings(connection.FromMap("test", map[string]string{"TablesConn": azurite.ConnectionString})),
			Logger:     slog.New(slog.DiscardHandler),
			HostID:     "tableleak",
			HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		conn := driver.Props{"connection": "TablesConn"}
		type params struct {
			Order    hostOrderMsg `azbind:"order"`
			Previous []hostOrder  `azbind:"previous"`
		}
		ran := make(chan struct{}, 1)
		err = host.Func("Place", extension.Func(func(ctx context.Context, p params) (hostOrder, error) {
			ran <- struct{}{}
			return hostOrder{Total: p.Order.Total, Previous: len(p.Previous)}, nil
		}),
			driver.Binding("memTrigger", "order", driver.DirIn, driver.Props{"queue": queue}),
			Input("previous", orders, conn, driver.Props{"partitionKey": "{customerId}"}),
			Output("$return", orders, conn, driver.Props{"partitionKey": "{customerId}", "rowKey": "{orderId}"}),
		)
		if err != nil {
			t.Fatal(err)
		}
		q := memconn.Default.Queue(queue)
		q.Send(fmt.Appendf(nil, `{"orderId":"o%d","customerId":"c1","total":1}`, i))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- host.Run(ctx) }()
		select {
		case <-ran:
		case <-time.After(30 * time.Second):
			t.Fatal("the function never ran")
		}
		cancel() // the drain lets the invocation finish: output written, item acknowledged
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(q.Acked()) != 1 {
			t.Fatalf("acked %d, dead %d", len(q.Acked()), len(q.Dead()))
		}
		if n := host.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
	}
	if err := goleak.Find(opts...); err != nil {
		t.Fatal(err)
	}
}
