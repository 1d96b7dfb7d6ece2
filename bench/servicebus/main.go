// Command servicebus benchmarks the serviceBusTrigger against a hand-written azservicebus
// receive-complete loop on the project's AMQP test peer.
//
//	go run ./bench/servicebus [-n 2000] [-concurrency 32]
//
// It starts the amqp-peer, then, in one run: (a) fills a queue with n messages of 64 bytes and
// drains it with the raw loop (ReceiveMessages of up to -concurrency messages, each completed by
// its own goroutine, at most -concurrency in flight); (b) fills a second queue the same way and
// drains it with the trigger (no-op handler, extension.NewHost + Func, maxConcurrentCalls =
// -concurrency). It prints messages/second for each and, last, `ratio: <b/a>`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

var (
	n           = flag.Int("n", 2000, "messages per leg (the peer slows down on much deeper queues)")
	concurrency = flag.Int("concurrency", 32, "messages in flight (raw loop) and maxConcurrentCalls (trigger)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/servicebus:", err)
		os.Exit(1)
	}
}

func run() error {
	p, err := amqppeer.Launch(&amqppeer.Config{Queues: []amqppeer.Queue{{Name: "raw"}, {Name: "trigger"}}})
	if err != nil {
		return err
	}
	defer p.Stop()
	cl, err := azservicebus.NewClientFromConnectionString(p.ConnectionString, nil)
	if err != nil {
		return err
	}
	defer cl.Close(context.Background())
	ctx := context.Background()

	if err := fill(ctx, cl, "raw", *n); err != nil {
		return err
	}
	raw, err := rawLoop(ctx, cl, "raw", *n)
	if err != nil {
		return err
	}
	fmt.Printf("raw azservicebus loop: %d messages in %v: %.0f msg/s\n", *n, raw.Round(time.Millisecond), float64(*n)/raw.Seconds())

	if err := fill(ctx, cl, "trigger", *n); err != nil {
		return err
	}
	trig, err := triggerRun(ctx, p, "trigger", *n)
	if err != nil {
		return err
	}
	fmt.Printf("serviceBusTrigger:     %d messages in %v: %.0f msg/s\n", *n, trig.Round(time.Millisecond), float64(*n)/trig.Seconds())
	fmt.Printf("ratio: %.2f\n", raw.Seconds()/trig.Seconds())
	return nil
}

// fill sends count messages in batches.
func fill(ctx context.Context, cl *azservicebus.Client, q string, count int) error {
	s, err := cl.NewSender(q, nil)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	body := make([]byte, 64)
	for sent := 0; sent < count; {
		b, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			return err
		}
		for ; sent < count && b.NumMessages() < 200; sent++ {
			if err := b.AddMessage(&azservicebus.Message{Body: body}, nil); err != nil {
				return err
			}
		}
		if err := s.SendMessageBatch(ctx, b, nil); err != nil {
			return err
		}
	}
	return nil
}

// rawLoop drains q with a hand-written receive-complete loop.
func rawLoop(ctx context.Context, cl *azservicebus.Client, q string, count int) (time.Duration, error) {
	r, err := cl.NewReceiverForQueue(q, nil)
	if err != nil {
		return 0, err
	}
	defer r.Close(ctx)
	slots := make(chan struct{}, *concurrency)
	var done atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for done.Load()+int64(len(slots)) < int64(count) {
		slots <- struct{}{}
		free := cap(slots) - len(slots) + 1
		msgs, err := r.ReceiveMessages(ctx, free, nil)
		if err != nil {
			return 0, err
		}
		if len(msgs) == 0 {
			<-slots
			continue
		}
		for i, m := range msgs {
			if i > 0 {
				slots <- struct{}{}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if err := r.CompleteMessage(ctx, m, nil); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				done.Add(1)
			}()
		}
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// triggerRun drains q with the serviceBusTrigger through the runtime.
func triggerRun(ctx context.Context, p *amqppeer.Peer, q string, count int) (time.Duration, error) {
	var handled atomic.Int64
	all := make(chan struct{})
	h, err := extension.NewHost(extension.HostOptions{
		Settings:   connection.NewSettings(connection.FromMap("bench", map[string]string{"AzureWebJobsServiceBus": p.ConnectionString})),
		Logger:     slog.New(slog.DiscardHandler),
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"serviceBus": {"maxConcurrentCalls": float64(*concurrency)}}},
	})
	if err != nil {
		return 0, err
	}
	if err := h.Func("Bench", extension.Action(func(ctx context.Context, b []byte) error {
		if handled.Add(1) == int64(count) {
			close(all)
		}
		return nil
	}), servicebus.Trigger("b", q)); err != nil {
		return 0, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- h.Run(runCtx) }()
	var elapsed time.Duration
	select {
	case <-all:
		elapsed = time.Since(start)
	case err := <-done:
		stop()
		return 0, errors.Join(errors.New("host stopped early"), err)
	case <-time.After(10 * time.Minute):
		stop()
		return 0, errors.New("the trigger did not drain the queue within 10 minutes")
	}
	// Wait until the peer counts no message (the completions of the last invocations).
	for deadline := time.Now().Add(time.Minute); ; {
		c, err := p.Counts(ctx, q)
		if err != nil {
			stop()
			return 0, err
		}
		if c.Total == 0 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return 0, fmt.Errorf("%d messages left after the handler saw all", c.Total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed = time.Since(start)
	stop()
	return elapsed, <-done
}
