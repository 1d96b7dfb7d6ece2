// Command blob benchmarks the blob trigger against a local Azurite: for a container that already
// holds 10,000 blobs it measures the time from the upload of a new blob to the invocation of its
// function, via the container scan and via the fast path (a blob written by the host's own output
// binding), and the list requests per scan.
//
//	go run ./bench/blob [-blobs 10000] [-samples 30]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/azbind/azbind/bench/internal/benchutil"
	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/emulator"
)

func main() {
	nBlobs := flag.Int("blobs", 10000, "blobs already in the watched container")
	samples := flag.Int("samples", 30, "measurements per path")
	flag.Parse()
	if err := run(*nBlobs, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "bench/blob:", err)
		os.Exit(1)
	}
}

func run(nBlobs, samples int) error {
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	ctx := context.Background()
	svc, err := service.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		return err
	}
	for _, c := range []string{"bench", "bench-src"} {
		if _, err := svc.NewContainerClient(c).Create(ctx, nil); err != nil {
			return err
		}
	}
	t0 := time.Now()
	if err := benchutil.FillContainer(ctx, svc, "bench", nBlobs); err != nil {
		return err
	}
	fmt.Printf("container bench: %d blobs uploaded in %s\n", nBlobs, time.Since(t0).Round(time.Millisecond))

	var mu sync.Mutex
	invoked := map[string]time.Time{}
	wrote := map[string]time.Time{}
	h, err := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("bench", map[string]string{"AzureWebJobsStorage": az.ConnectionString})),
		HostID:   "benchhost",
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// startFrom firstStart: the 10,000 existing blobs are not processed at start.
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"blobs": {"startFrom": "firstStart"}}},
	})
	if err != nil {
		return err
	}
	err = h.Func("Watch", extension.Action(func(ctx context.Context, r io.Reader) error {
		now := time.Now()
		name, _ := extension.FromContext(ctx).Metadata.Lookup("name")
		mu.Lock()
		invoked[name.(string)] = now
		mu.Unlock()
		return nil
	}), blob.Trigger("input", "bench/{name}"))
	if err != nil {
		return err
	}
	// The writer: triggered by bench-src, writes bench/fast-<name> through its output binding.
	err = h.Func("Writer", extension.Func(func(ctx context.Context, data []byte) ([]byte, error) {
		name, _ := extension.FromContext(ctx).Metadata.Lookup("name")
		mu.Lock()
		wrote["fast-"+name.(string)] = time.Now() // the upload happens right after return (Flush)
		mu.Unlock()
		return data, nil
	}), blob.Trigger("input", "bench-src/{name}"), blob.Output("$return", "bench/fast-{name}"))
	if err != nil {
		return err
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(hctx) }()
	defer func() { cancel(); <-done }()

	stat := func() blob.ScannerStat {
		for _, s := range blob.ScannerStats(h.Services()) {
			if s.Container == "bench" {
				return s
			}
		}
		return blob.ScannerStat{}
	}
	// Wait for the first complete sweep.
	if err := benchutil.WaitUntil(60*time.Second, func() bool { return stat().Sweeps >= 1 }); err != nil {
		return fmt.Errorf("first sweep: %w", err)
	}
	st0 := stat()

	var scanLat []time.Duration
	for i := 0; i < samples; i++ {
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond) // random phase against the scan
		name := fmt.Sprintf("new-%03d", i)
		if _, err := svc.NewContainerClient("bench").NewBlockBlobClient(name).UploadBuffer(ctx, []byte(name), nil); err != nil {
			return err
		}
		up := time.Now()
		if err := benchutil.WaitUntil(30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); _, ok := invoked[name]; return ok }); err != nil {
			return fmt.Errorf("scan sample %s: %w", name, err)
		}
		mu.Lock()
		scanLat = append(scanLat, invoked[name].Sub(up))
		mu.Unlock()
	}
	st1 := stat()

	var fastLat []time.Duration
	for i := 0; i < samples; i++ {
		name := fmt.Sprintf("s-%03d", i)
		if _, err := svc.NewContainerClient("bench-src").NewBlockBlobClient(name).UploadBuffer(ctx, []byte(name), nil); err != nil {
			return err
		}
		key := "fast-" + name
		if err := benchutil.WaitUntil(30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); _, ok := invoked[key]; return ok }); err != nil {
			return fmt.Errorf("fast-path sample %s: %w", key, err)
		}
		mu.Lock()
		fastLat = append(fastLat, invoked[key].Sub(wrote[key]))
		mu.Unlock()
	}
	sweeps := st1.Sweeps - st0.Sweeps
	calls := st1.ListCalls - st0.ListCalls
	fmt.Printf("settings: defaults (pollingInterval %s, maxScanInterval %s, list page 5000)\n", blob.DefaultPollingInterval, blob.DefaultMaxScanInterval)
	fmt.Printf("scan path  (upload → invocation, %d samples): p50 %s  p95 %s  max %s\n", len(scanLat), benchutil.Pct(scanLat, 50), benchutil.Pct(scanLat, 95), benchutil.Pct(scanLat, 100))
	fmt.Printf("fast path  (output write → invocation, %d samples): p50 %s  p95 %s  max %s\n", len(fastLat), benchutil.Pct(fastLat, 50), benchutil.Pct(fastLat, 95), benchutil.Pct(fastLat, 100))
	if sweeps > 0 {
		fmt.Printf("scans: %d sweeps of %d+ blobs, %d list calls (%.1f per poll), last sweep took %s\n",
			sweeps, nBlobs, calls, float64(calls)/float64(sweeps), stat().LastSweep.Round(time.Millisecond))
	}
	return nil
}
