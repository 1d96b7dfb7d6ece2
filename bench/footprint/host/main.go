// Command host is the storage-only host that bench/footprint measures: one queue trigger (with an
// unused table output), one blob trigger, settings from the environment (AzureWebJobsStorage).
// With -stats it prints the Go runtime's memory figures every -every to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/table"
)

func main() {
	stats := flag.Bool("stats", false, "print runtime memory figures to stderr")
	every := flag.Duration("every", 10*time.Second, "interval of -stats")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// startFrom firstStart: the blobs already in the container are not processed (the host is idle).
	h, err := extension.NewHost(extension.HostOptions{HostID: "footprint",
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"blobs": {"startFrom": "firstStart"}}}})
	if err != nil {
		log.Fatal(err)
	}
	err = h.Func("OnMessage", extension.Action(func(ctx context.Context, p struct {
		Msg  string                               `azbind:"msg"`
		Rows *extension.Collector[map[string]any] `azbind:"rows"`
	}) error {
		return nil
	}), queue.Trigger("msg", "footprint-q"), table.Output("rows", "FootprintRows"))
	if err != nil {
		log.Fatal(err)
	}
	err = h.Func("OnBlob", extension.Action(func(ctx context.Context, b []byte) error { return nil }),
		blob.Trigger("input", "footprint/{name}"))
	if err != nil {
		log.Fatal(err)
	}
	if *stats {
		go func() {
			t0 := time.Now()
			for range time.Tick(*every) {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				fmt.Fprintf(os.Stderr, "stats t=%s heap_inuse=%.1fMB heap_idle=%.1fMB heap_released=%.1fMB stack=%.1fMB sys=%.1fMB goroutines=%d gc=%d\n",
					time.Since(t0).Round(time.Second), mb(m.HeapInuse), mb(m.HeapIdle), mb(m.HeapReleased), mb(m.StackInuse), mb(m.Sys), runtime.NumGoroutine(), m.NumGC)
			}
		}()
	}
	if err := h.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
