// Command servicebus benchmarks the serviceBusTrigger at its defaults against hand-written
// azservicebus loops on the project's AMQP test peer.
//
//	go run ./bench/servicebus [-n 2000] [-rounds 3]
//
// It starts the amqp-peer and, in each round, fills a queue with n messages of 64 bytes and drains
// it with each leg, the legs' order rotated every round (interleaved, so that a busy machine slows
// every leg alike):
//
//	dapr    the shape of Dapr's Service Bus binding at its defaults: receive 1, handle, complete,
//	        one at a time (maxActiveMessages 1);
//	raw-1, raw-8, raw-32
//	        a receive-complete loop with at most c messages in flight: ReceiveMessages of up to the
//	        free slots, each message completed by its own goroutine;
//	trigger the serviceBusTrigger through the runtime (extension.NewHost + Func, no-op handler), with
//	        host.json defaults (maxConcurrentCalls 16 × processors).
//
// A leg's time runs from the first message it holds (opening a link is not measured) until the
// peer holds no message of its queue. It
// prints messages/second per leg and round, the total per leg, then `ratio trigger/<leg>:` for
// every leg (total messages over total time), and `ok` or `BELOW` for each against 1.0.
//
// Figures (three runs of -n 2000 -rounds 3) and why the concurrent receive used to stall: see
// servicebus/README.md, "Benchmark".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

var (
	n       = flag.Int("n", 2000, "messages per leg and round")
	rounds  = flag.Int("rounds", 3, "rounds (each runs every leg once, in a rotated order)")
	cpuprof = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memprof = flag.String("memprofile", "", "write an allocation profile of the run to this file")
	only    = flag.String("legs", "", "comma-separated legs to run (default all: dapr,raw-1,raw-8,raw-32,trigger); the trigger leg always runs")
)

func main() {
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/servicebus:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/servicebus:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	if *memprof != "" {
		f, err := os.Create(*memprof)
		if err == nil {
			err = pprof.Lookup("allocs").WriteTo(f, 0)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/servicebus:", err)
		}
	}
}

type leg struct {
	name  string
	drain func(ctx context.Context, q string, count int, first *firstSeen) error
	total time.Duration
	msgs  int
	cpu   time.Duration // this process's CPU time during the leg's drains
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run() error {
	p, err := amqppeer.Launch(&amqppeer.Config{Queues: []amqppeer.Queue{{Name: "bench"}}})
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

	legs := []*leg{
		{name: "dapr", drain: func(ctx context.Context, q string, count int, first *firstSeen) error {
			return oneAtATime(ctx, cl, q, count, first)
		}},
		{name: "raw-1", drain: func(ctx context.Context, q string, count int, first *firstSeen) error {
			return rawLoop(ctx, cl, q, count, 1, first)
		}},
		{name: "raw-8", drain: func(ctx context.Context, q string, count int, first *firstSeen) error {
			return rawLoop(ctx, cl, q, count, 8, first)
		}},
		{name: "raw-32", drain: func(ctx context.Context, q string, count int, first *firstSeen) error {
			return rawLoop(ctx, cl, q, count, 32, first)
		}},
		{name: "trigger", drain: func(ctx context.Context, q string, count int, first *firstSeen) error {
			return triggerRun(ctx, p, q, count, first)
		}},
	}
	if *only != "" {
		keep := map[string]bool{"trigger": true}
		for _, name := range strings.Split(*only, ",") {
			keep[strings.TrimSpace(name)] = true
		}
		legs = slices.DeleteFunc(legs, func(l *leg) bool { return !keep[l.name] })
	}
	// Warm up the peer (a Node process) and the connection: not measured.
	if err := fill(ctx, cl, "bench", *n/4); err != nil {
		return err
	}
	if err := rawLoop(ctx, cl, "bench", *n/4, 8, &firstSeen{}); err != nil {
		return err
	}
	for r := range *rounds {
		for i := range legs {
			l := legs[(i+r)%len(legs)]
			if err := fill(ctx, cl, "bench", *n); err != nil {
				return err
			}
			var first firstSeen
			c0 := cpuTime()
			if err := l.drain(ctx, "bench", *n, &first); err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			if err := waitEmpty(ctx, p, "bench"); err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			if first.end.IsZero() {
				first.end = time.Now()
			}
			d := first.end.Sub(first.at())
			c := cpuTime() - c0
			l.total += d
			l.msgs += *n
			l.cpu += c
			fmt.Printf("round %d %-8s %6.0f msg/s  %5.1f µs CPU/msg\n", r+1, l.name, float64(*n)/d.Seconds(), float64(c.Microseconds())/float64(*n))
		}
	}
	trig := legs[len(legs)-1]
	rate := func(l *leg) float64 { return float64(l.msgs) / l.total.Seconds() }
	for _, l := range legs {
		fmt.Printf("total %-8s %6.0f msg/s  %5.1f µs CPU/msg (this process)\n", l.name, rate(l), float64(l.cpu.Microseconds())/float64(l.msgs))
	}
	for _, l := range legs[:len(legs)-1] {
		ratio := rate(trig) / rate(l)
		verdict := "ok"
		if ratio < 1 {
			verdict = "BELOW"
		}
		fmt.Printf("ratio trigger/%s: %.2f %s\n", l.name, ratio, verdict)
	}
	return nil
}

// firstSeen records when a leg first held a message: a leg's time excludes opening its link.
type firstSeen struct {
	once sync.Once
	t    time.Time
	end  time.Time // when the queue was empty (zero: when the leg returned)
}

func (f *firstSeen) mark() { f.once.Do(func() { f.t = time.Now() }) }

func (f *firstSeen) at() time.Time {
	f.mark()
	return f.t
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

// waitEmpty polls the peer until q holds no message (the last completions arrived).
func waitEmpty(ctx context.Context, p *amqppeer.Peer, q string) error {
	for deadline := time.Now().Add(2 * time.Minute); ; {
		c, err := p.Counts(ctx, q)
		if err != nil {
			return err
		}
		if c.Total == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			r, _ := p.Releases(ctx, q)
			return fmt.Errorf("%d messages left (%+v, %d released ever)", c.Total, c, r)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// oneAtATime is the Dapr binding's shape at its defaults: receive one message, handle it (no-op),
// complete it, then receive the next.
func oneAtATime(ctx context.Context, cl *azservicebus.Client, q string, count int, first *firstSeen) error {
	r, err := cl.NewReceiverForQueue(q, nil)
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	for done := 0; done < count; {
		msgs, err := r.ReceiveMessages(ctx, 1, nil)
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			first.mark()
		}
		for _, m := range msgs {
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				return err
			}
			done++
		}
	}
	return nil
}

// rawLoop drains q with a receive-complete loop, at most c messages in flight.
func rawLoop(ctx context.Context, cl *azservicebus.Client, q string, count, c int, first *firstSeen) error {
	r, err := cl.NewReceiverForQueue(q, nil)
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	slots := make(chan struct{}, c)
	var done atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for done.Load()+int64(len(slots)) < int64(count) {
		slots <- struct{}{}
		free := cap(slots) - len(slots) + 1
		msgs, err := r.ReceiveMessages(ctx, free, nil)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			<-slots
			continue
		}
		first.mark()
		for i, m := range msgs {
			if i > 0 {
				slots <- struct{}{}
			}
			wg.Go(func() {
				defer func() { <-slots }()
				if err := r.CompleteMessage(ctx, m, nil); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				done.Add(1)
			})
		}
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

// triggerRun drains q with the serviceBusTrigger at its defaults through the runtime; it returns
// once the handler saw count messages (run waits for their completions on the peer).
func triggerRun(ctx context.Context, p *amqppeer.Peer, q string, count int, first *firstSeen) error {
	var handled atomic.Int64
	all := make(chan struct{})
	h, err := extension.NewHost(extension.HostOptions{
		Settings:   connection.NewSettings(connection.FromMap("bench", map[string]string{"AzureWebJobsServiceBus": p.ConnectionString})),
		Logger:     slog.New(slog.DiscardHandler),
		HostConfig: &extension.HostConfig{Version: "2.0"},
	})
	if err != nil {
		return err
	}
	if err := h.Func("Bench", extension.Action(func(ctx context.Context, b []byte) error {
		first.mark()
		if handled.Add(1) == int64(count) {
			close(all)
		}
		return nil
	}), servicebus.Trigger("b", q)); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- h.Run(runCtx) }()
	select {
	case <-all:
	case err := <-done:
		return errors.Join(errors.New("host stopped early"), err)
	case <-time.After(10 * time.Minute):
		return errors.New("the trigger did not drain the queue within 10 minutes")
	}
	if err := waitEmpty(ctx, p, q); err != nil {
		return err
	}
	first.end = time.Now() // the host's stop is not measured
	stop()
	return <-done
}
