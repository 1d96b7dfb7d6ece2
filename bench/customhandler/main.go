// Command customhandler measures what the custom-handler hop costs: queue-triggered invocations
// per second of the same function (decode an order, write a receipt) through the Go example's
// custom handler process (examples/customhandler-go, over loopback HTTP, the Functions wire
// encodings) against the same work as an in-process extension.Dynamic handler. The queue is the
// in-memory test broker, so that the hop, not a storage emulator, is what differs. Legs are
// interleaved in one run; the ratio is printed.
//
//	go run ./bench/customhandler [-n 2000] [-rounds 5] [-concurrency 16]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/customhandler"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/memconn"
)

var (
	n           = flag.Int("n", 2000, "messages per leg")
	rounds      = flag.Int("rounds", 5, "rounds (each runs both legs, alternating which goes first)")
	concurrency = flag.Int("concurrency", 16, "invocations in flight per function")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/customhandler:", err)
		os.Exit(1)
	}
}

type order struct {
	ID   string `json:"id"`
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

// inProcess does what the example's ProcessOrder does, in Go, in the host.
func inProcess(ctx context.Context, inv *extension.DynamicInvocation) (extension.Outputs, error) {
	b, err := inv.Bytes()
	if err != nil {
		return nil, err
	}
	var o order
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, err
	}
	r, _ := json.Marshal(map[string]any{"id": o.ID, "item": o.Item, "qty": o.Qty,
		"dequeueCount": fmt.Sprint(inv.Metadata["DeliveryCount"]), "processedAt": time.Now().UTC().Format(time.RFC3339Nano)})
	return extension.Outputs{"receipt": json.RawMessage(r)}, nil
}

func run() error {
	dir, err := os.MkdirTemp("", "bench-customhandler-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "handler"), "./examples/customhandler-go").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./examples/customhandler-go (run from the repository root): %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"}}}`), 0o644); err != nil {
		return err
	}
	settings := connection.NewSettings()
	cfg, err := customhandler.LoadConfig(dir, settings)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	w, err := customhandler.Start(ctx, customhandler.Options{AppDir: dir, Config: cfg, Settings: settings, Logger: logger})
	if err != nil {
		return err
	}
	defer w.Close(ctx)

	host, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: logger, HostID: "bench-customhandler",
		HostConfig: &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"concurrency": *concurrency}},
			LogLevels: map[string]string{"default": "Warning"}}})
	if err != nil {
		return err
	}
	// The function is named ProcessOrder in both legs (the handler routes by name); the
	// in-process one is declared on a second host.
	decl := func(h *extension.Host, q string, hd extension.Handler) error {
		return h.Func("ProcessOrder", hd,
			extension.Binding("memTrigger", "order", extension.DirIn, extension.Props{"queue": q}),
			extension.Binding("mem", "receipt", extension.DirOut, extension.Props{"queue": q + "-receipts"}))
	}
	if err := decl(host, "bench-ch", w.Handler()); err != nil {
		return err
	}
	host2, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: logger, HostID: "bench-inproc",
		HostConfig: &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"concurrency": *concurrency}},
			LogLevels: map[string]string{"default": "Warning"}}})
	if err != nil {
		return err
	}
	if err := decl(host2, "bench-go", extension.Dynamic(inProcess)); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- host.Run(rctx) }()
	go func() { done <- host2.Run(rctx) }()
	defer func() { cancel(); <-done; <-done }()

	leg := func(q string) (float64, error) {
		mq := memconn.Default.Queue(q)
		out := memconn.Default.Queue(q + "-receipts")
		before := len(mq.Acked())
		start := time.Now()
		for i := range *n {
			mq.Send(fmt.Appendf(nil, `{"id":"o-%d","item":"book","qty":%d}`, i, i%7))
		}
		deadline := start.Add(5 * time.Minute)
		for len(mq.Acked())-before < *n {
			if len(mq.Dead()) > 0 {
				return 0, fmt.Errorf("%s: %d messages failed", q, len(mq.Dead()))
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s: timed out", q)
			}
			time.Sleep(time.Millisecond)
		}
		el := time.Since(start)
		if got := len(out.Drain()); got != *n {
			return 0, fmt.Errorf("%s: %d receipts for %d messages", q, got, *n)
		}
		return float64(*n) / el.Seconds(), nil
	}
	// Warm-up (connections, JIT-free but caches): one small leg each, not counted.
	saved := *n
	*n = 200
	if _, err := leg("bench-ch"); err != nil {
		return err
	}
	if _, err := leg("bench-go"); err != nil {
		return err
	}
	*n = saved
	var ch, gor []float64
	for r := range *rounds {
		order := []string{"bench-ch", "bench-go"}
		if r%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, q := range order {
			v, err := leg(q)
			if err != nil {
				return err
			}
			if q == "bench-ch" {
				ch = append(ch, v)
			} else {
				gor = append(gor, v)
			}
		}
		fmt.Printf("round %d: custom handler %.0f/s, in-process %.0f/s\n", r+1, ch[len(ch)-1], gor[len(gor)-1])
	}
	mc, mg := median(ch), median(gor)
	fmt.Printf("\nqueue-triggered invocations/s (median of %d rounds, %d messages each, concurrency %d, in-memory queue):\n", *rounds, *n, *concurrency)
	fmt.Printf("  in-process (extension.Dynamic)        %8.0f/s\n", mg)
	fmt.Printf("  custom handler (Go, loopback HTTP)    %8.0f/s\n", mc)
	fmt.Printf("  ratio custom handler / in-process      %7.2f\n", mc/mg)
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
