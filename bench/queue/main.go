// Command queue benchmarks the queue trigger against the raw SDK on the same Azurite workload.
//
//	go run ./bench/queue [-n 10000] [-depth 500] [-cpuprofile trigger.pprof]
//
// It starts Azurite (on disk in tmpfs), then measures, in one run:
//
//	(a) the raw SDK ceiling: a hand-tuned loop that dequeues 32 messages at a time and deletes them
//	    concurrently, at the best of concurrencies 1, 2, 4 and 8 (each tried briefly);
//	(b) the queue trigger with a no-op handler through the real runtime (extension.NewHost + Func),
//	    with default host.json settings.
//
// Both consume the same workload: n messages of 64 bytes fed by a producer that keeps about depth
// messages queued (Azurite's queue operations slow down sharply with depth). It prints
// messages/second for each, the requests per message, and `ratio: <b/a>`.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/queue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/queue:", err)
		os.Exit(1)
	}
}

var (
	n          = flag.Int("n", 10000, "messages per measured run")
	depth      = flag.Int("depth", 500, "queue depth the producer keeps")
	trial      = flag.Int("trial", 1500, "messages per concurrency trial of the raw loop")
	cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the trigger run to this file")
	verbose    = flag.Bool("v", false, "log the host at info level")
)

func run() error {
	flag.Parse()
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	fmt.Printf("azurite queue endpoint %s\n", az.QueueEndpoint)

	producer, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: tunedHTTP()}})
	if err != nil {
		return err
	}
	ctx := context.Background()

	// (a) raw SDK: try concurrencies briefly, keep the best, then the full run.
	bestC, bestRate := 0, 0.0
	for _, c := range []int{1, 2, 4, 8} {
		rate, _, err := rawRun(ctx, az, producer, fmt.Sprintf("raw-trial-%d", c), *trial, c)
		if err != nil {
			return err
		}
		fmt.Printf("  raw trial: concurrency %d: %.0f msg/s\n", c, rate)
		if rate > bestRate {
			bestC, bestRate = c, rate
		}
	}
	rawRate, rawReq, err := rawRun(ctx, az, producer, "raw-main", *n, bestC)
	if err != nil {
		return err
	}
	fmt.Printf("(a) raw SDK ceiling: %.0f msg/s (concurrency %d, %.3f requests/message)\n", rawRate, bestC, rawReq)

	// (b) the trigger through the runtime.
	trigRate, trigReq, err := triggerRun(ctx, az, producer, "trigger-main", *n)
	if err != nil {
		return err
	}
	fmt.Printf("(b) queue trigger:   %.0f msg/s (%.3f requests/message)\n", trigRate, trigReq)
	fmt.Printf("ratio: %.2f\n", trigRate/rawRate)
	return nil
}

func tunedHTTP() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 128
	tr.IdleConnTimeout = 4 * time.Second
	return &http.Client{Transport: tr}
}

// countingTransport counts the consumer's requests.
type countingTransport struct {
	c *http.Client
	n atomic.Int64
}

func (t *countingTransport) Do(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.c.Do(req)
}

// produce keeps about depth messages queued until total were sent; consumed reports progress.
func produce(ctx context.Context, q *azqueue.QueueClient, total int, consumed func() int64) (prefilled <-chan struct{}, done <-chan error) {
	pre := make(chan struct{})
	errc := make(chan error, 1)
	var sent atomic.Int64
	var once sync.Once
	body := strings.Repeat("x", 48) // 64 bytes as base64
	text := queueText(body)
	go func() {
		var wg sync.WaitGroup
		var firstErr error
		var mu sync.Mutex
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if sent.Load()-consumed() >= int64(*depth) {
						if sent.Load() >= int64(*depth) || sent.Load() >= int64(total) {
							once.Do(func() { close(pre) })
						}
						time.Sleep(2 * time.Millisecond)
						continue
					}
					i := sent.Add(1)
					if i > int64(total) {
						once.Do(func() { close(pre) })
						return
					}
					if _, err := q.EnqueueMessage(ctx, text, nil); err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
						once.Do(func() { close(pre) })
						return
					}
				}
			}()
		}
		wg.Wait()
		errc <- firstErr
	}()
	return pre, errc
}

func queueText(body string) string {
	return base64.StdEncoding.EncodeToString([]byte(body))
}

// rawRun drains total messages with c workers that each dequeue 32 and delete them concurrently.
func rawRun(ctx context.Context, az *emulator.Azurite, producer *azqueue.ServiceClient, name string, total, c int) (rate, reqPerMsg float64, err error) {
	if _, err := producer.CreateQueue(ctx, name, nil); err != nil {
		return 0, 0, err
	}
	defer producer.DeleteQueue(ctx, name, nil)
	ct := &countingTransport{c: tunedHTTP()}
	svc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: ct}})
	if err != nil {
		return 0, 0, err
	}
	q := svc.NewQueueClient(name)
	var consumed atomic.Int64
	pre, prodDone := produce(ctx, producer.NewQueueClient(name), total, consumed.Load)
	<-pre
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, c)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for consumed.Load() < int64(total) {
				resp, err := q.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: ptr(int32(32)), VisibilityTimeout: ptr(int32(300))})
				if err != nil {
					errc <- err
					return
				}
				if len(resp.Messages) == 0 {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				var dwg sync.WaitGroup
				for _, m := range resp.Messages {
					dwg.Add(1)
					go func() {
						defer dwg.Done()
						if _, err := q.DeleteMessage(ctx, *m.MessageID, *m.PopReceipt, nil); err != nil {
							select {
							case errc <- err:
							default:
							}
							return
						}
						consumed.Add(1)
					}()
				}
				dwg.Wait()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := <-prodDone; err != nil {
		return 0, 0, fmt.Errorf("producer: %w", err)
	}
	select {
	case err := <-errc:
		return 0, 0, err
	default:
	}
	return float64(total) / elapsed.Seconds(), float64(ct.n.Load()) / float64(total), nil
}

// resolver resolves every connection to Azurite through the counting transport.
type resolver struct {
	connStr string
	tr      *countingTransport
}

func (r resolver) Resolve(ctx context.Context, name string, svc connection.Service) (*connection.Connection, error) {
	return &connection.Connection{Name: name, Service: svc, Source: "bench", Key: "AzureWebJobsStorage", Kind: connection.KindConnectionString,
		ConnectionString: r.connStr, ClientOptions: azcore.ClientOptions{Transport: r.tr}}, nil
}

// triggerRun drains total messages through a queue trigger with a no-op handler.
func triggerRun(ctx context.Context, az *emulator.Azurite, producer *azqueue.ServiceClient, name string, total int) (rate, reqPerMsg float64, err error) {
	if _, err := producer.CreateQueue(ctx, name, nil); err != nil {
		return 0, 0, err
	}
	defer producer.DeleteQueue(ctx, name, nil)
	ct := &countingTransport{c: tunedHTTP()}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	h, err := extension.NewHost(extension.HostOptions{
		Settings:    connection.NewSettings(connection.FromMap("bench", map[string]string{"AzureWebJobsStorage": az.ConnectionString})),
		Connections: resolver{connStr: az.ConnectionString, tr: ct},
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		HostID:      "bench",
	})
	if err != nil {
		return 0, 0, err
	}
	var consumed atomic.Int64
	doneAll := make(chan struct{})
	err = h.Func("Noop", extension.Action(func(ctx context.Context, b []byte) error {
		if consumed.Add(1) == int64(total) {
			close(doneAll)
		}
		return nil
	}), queue.Trigger("msg", name))
	if err != nil {
		return 0, 0, err
	}
	pre, prodDone := produce(ctx, producer.NewQueueClient(name), total, consumed.Load)
	<-pre
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, 0, err
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, cancel := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	start := time.Now()
	go func() { runDone <- h.Run(runCtx) }()
	select {
	case <-doneAll:
	case err := <-runDone:
		cancel()
		return 0, 0, fmt.Errorf("host stopped early: %v", err)
	case <-time.After(30 * time.Minute):
		cancel()
		return 0, 0, fmt.Errorf("timed out with %d of %d messages processed", consumed.Load(), total)
	}
	// The last deletes follow the last handler calls; stop (drain) and count that in.
	cancel()
	if err := <-runDone; err != nil {
		return 0, 0, err
	}
	elapsed := time.Since(start)
	if err := <-prodDone; err != nil {
		return 0, 0, fmt.Errorf("producer: %w", err)
	}
	return float64(total) / elapsed.Seconds(), float64(ct.n.Load()) / float64(total), nil
}

func ptr[T any](v T) *T { return &v }
