// Command queue benchmarks the queue trigger against the raw SDK on the same Azurite workload.
//
//	go run ./bench/queue [-n 10000] [-depth 500] [-legs 8] [-cpuprofile trigger.pprof] [-listener]
//
// It starts Azurite (on disk in tmpfs), then measures, in one run:
//
//	(a) the raw SDK ceiling: a hand-tuned loop that dequeues 32 messages at a time and deletes them
//	    concurrently, at the best of concurrencies 1, 2, 4 and 8 (each tried briefly);
//	(b) the queue trigger with a no-op handler through the real runtime (extension.NewHost + Func),
//	    with default host.json settings.
//
// Both consume the same workload: n messages of 64 bytes each, fed by a producer that keeps about
// depth messages queued (Azurite's queue operations slow down sharply with depth). After a warm-up,
// the measured legs alternate in ABBA order (raw, trigger, trigger, raw, …) so that Azurite's drift
// and a busy machine affect both sides alike. It prints messages/second for each, the requests per
// message (a load-independent view of the trigger's overhead), and `ratio: <b/a>`.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"github.com/azbind/azbind/extension/driver"
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
	n            = flag.Int("n", 10000, "messages per measured run")
	depth        = flag.Int("depth", 500, "queue depth the producer keeps")
	trial        = flag.Int("trial", 1500, "messages per concurrency trial of the raw loop")
	cpuprofile   = flag.String("cpuprofile", "", "write a CPU profile of the last trigger leg to this file")
	verbose      = flag.Bool("v", false, "log the host at info level")
	legs         = flag.Int("legs", 8, "measured legs (ABBA order), split evenly between raw and trigger")
	producers    = flag.Int("producers", 8, "concurrent enqueuers keeping the depth")
	listenerOnly = flag.Bool("listener", false, "also measure queue.Listener without the runtime")
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

	// Warm-up (not reported): Azurite's first few thousand operations are slower.
	if _, _, err := rawRun(ctx, az, producer, "warmup", *trial, 4); err != nil {
		return err
	}

	// (a) raw SDK: try concurrencies briefly and keep the best.
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

	// Measured legs in ABBA order (raw, trigger, trigger, raw, …), each with n/(legs/2) messages,
	// so that drift and noise in Azurite's speed over the run affect both sides alike.
	pairs := max(*legs/2, 1)
	half := max(*n/pairs, 1)
	var order []string
	for i := range pairs {
		if i%2 == 0 {
			order = append(order, "raw", "trigger")
		} else {
			order = append(order, "trigger", "raw")
		}
	}
	var rawT, trigT time.Duration
	var rawReq, trigReq int64
	for i, leg := range order {
		name := fmt.Sprintf("%s-leg-%d", leg, i)
		var d time.Duration
		var req int64
		var err error
		if leg == "raw" {
			d, req, err = rawLeg(ctx, az, producer, name, half, bestC)
			rawT, rawReq = rawT+d, rawReq+req
		} else {
			d, req, err = triggerLeg(ctx, az, producer, name, half)
			trigT, trigReq = trigT+d, trigReq+req
		}
		if err != nil {
			return err
		}
		fmt.Printf("  leg %d %-7s: %.0f msg/s\n", i+1, leg, float64(half)/d.Seconds())
	}
	if *listenerOnly {
		d, req, err := listenerLeg(ctx, az, producer, "listener-only", half)
		if err != nil {
			return err
		}
		fmt.Printf("  queue.Listener without the runtime: %.0f msg/s (%.3f requests/message)\n", float64(half)/d.Seconds(), float64(req)/float64(half))
	}
	total := float64(pairs * half)
	rawRate := total / rawT.Seconds()
	trigRate := total / trigT.Seconds()
	fmt.Printf("(a) raw SDK ceiling: %.0f msg/s (concurrency %d, %.3f requests/message)\n", rawRate, bestC, float64(rawReq)/total)
	fmt.Printf("(b) queue trigger:   %.0f msg/s (%.3f requests/message)\n", trigRate, float64(trigReq)/total)
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
		for range *producers {
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

// rawRun is rawLeg as a rate.
func rawRun(ctx context.Context, az *emulator.Azurite, producer *azqueue.ServiceClient, name string, total, c int) (rate, reqPerMsg float64, err error) {
	d, req, err := rawLeg(ctx, az, producer, name, total, c)
	if err != nil {
		return 0, 0, err
	}
	return float64(total) / d.Seconds(), float64(req) / float64(total), nil
}

// rawLeg drains total messages with c workers that each dequeue 32 and delete them concurrently.
func rawLeg(ctx context.Context, az *emulator.Azurite, producer *azqueue.ServiceClient, name string, total, c int) (time.Duration, int64, error) {
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
	return elapsed, ct.n.Load(), nil
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

// triggerLeg drains total messages through a queue trigger with a no-op handler, with default
// host.json settings.
func triggerLeg(ctx context.Context, az *emulator.Azurite, producer *azqueue.ServiceClient, name string, total int) (time.Duration, int64, error) {
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
	return elapsed, ct.n.Load(), nil
}

func ptr[T any](v T) *T { return &v }

// listenerLeg drains total messages with queue.Listener alone (no runtime), for diagnosis.
func listenerLeg(ctx context.Context, az *emulator.Azurite, producer *azqueue.ServiceClient, name string, total int) (time.Duration, int64, error) {
	if _, err := producer.CreateQueue(ctx, name, nil); err != nil {
		return 0, 0, err
	}
	defer producer.DeleteQueue(ctx, name, nil)
	ct := &countingTransport{c: tunedHTTP()}
	svc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: ct}})
	if err != nil {
		return 0, 0, err
	}
	var consumed atomic.Int64
	doneAll := make(chan struct{})
	l := queue.NewListener(svc.NewQueueClient(name), nil, queue.ListenerOptions{}, func(ctx context.Context, m *queue.Message) driver.Result {
		if consumed.Add(1) == int64(total) {
			close(doneAll)
		}
		return driver.Result{}
	})
	pre, prodDone := produce(ctx, producer.NewQueueClient(name), total, consumed.Load)
	<-pre
	runCtx, cancel := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	start := time.Now()
	go func() { runDone <- l.Run(runCtx) }()
	<-doneAll
	cancel()
	<-runDone
	elapsed := time.Since(start)
	if err := <-prodDone; err != nil {
		return 0, 0, err
	}
	return elapsed, ct.n.Load(), nil
}
