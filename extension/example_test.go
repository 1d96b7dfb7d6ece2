package extension_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/memconn"
)

// A function declared through the Go API: an in-memory trigger, its payload decoded from JSON,
// and the return value written to an output whose name uses trigger data.
func Example() {
	type order struct {
		ID   string `json:"id"`
		Item string `json:"item"`
	}
	host, _ := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("example", map[string]string{"Shipping": "ship"})),
		Logger:   slog.New(slog.DiscardHandler),
		HostID:   "example",
	})
	_ = host.Func("ShipOrder",
		extension.Func(func(ctx context.Context, o order) (string, error) {
			return strings.ToUpper(o.Item), nil
		}),
		extension.Binding("memTrigger", "order", extension.DirIn, extension.Props{"queue": "example-orders"}),
		extension.Binding("mem", "$return", extension.DirOut, extension.Props{"queue": "%Shipping%-{item}"}),
	)
	memconn.Default.Queue("example-orders").Send([]byte(`{"id":"42","item":"book"}`))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- host.Run(ctx) }()
	for len(memconn.Default.Queue("example-orders").Acked()) == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	fmt.Printf("%s\n", memconn.Default.Queue("ship-book").Drain())
	// Output: [BOOK]
}
