// Command invoke measures the runtime's invocation path: an invocation whose one output evaluates
// the binding template `shipped-{ID}` in Open (as the queue, blob and Service Bus outputs do)
// against the same invocation with a plain output, legs interleaved in one process.
//
//	go run ./bench/invoke [-n 200000] [-legs 12] [-procs 5]
//
// Both functions live in one real host (extension.NewHost + Func, a string handler that returns
// its input to a `$return` output); their triggers hand the runtime's Executor to the bench, which
// calls Execute n times per leg with an event of 12 bytes and the metadata {"Id": "1"}, as a queue
// trigger delivers it. The legs alternate ABBA (plain, templated, templated, plain, …) after a
// warm-up of each, so a busy machine slows both alike. Per side it prints wall time and process
// CPU time per invocation (CPU includes the garbage collector's work, which is part of the cost)
// and heap allocations per invocation (runtime.MemStats.Mallocs). The last lines are
// `ratio (templated/plain): wall <w> cpu <c>` over all legs and the median of the per-pair wall
// ratios. With -procs N (default 5) the whole measurement runs in N processes one after the other,
// each printing its totals, and the last line is the median of their ratios; issue 24 asks for
// ≤ 1.3 and ≤ 5 allocations (plain ≤ 3).
//
// Measured 2026-12-08 on a 2-core machine, three runs of the default: medians wall 1.24, 1.29,
// 1.15 (cpu 1.23, 1.24, 1.15); 3 and 4 allocs per invocation. Before: 1.39–1.53.
//
// The Go benchmarks BenchmarkInvoke and BenchmarkInvokeTemplated (extension/runtime_test.go) give
// the same two paths as ns/op and allocs/op; on this project's 2-core machines their wall times
// swing by 2× between runs, which is why the ratio is taken here.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

var (
	n    = flag.Int("n", 200000, "invocations per leg")
	legs = flag.Int("legs", 12, "measured legs (ABBA order), split evenly between plain and templated")
	reps = flag.Int("procs", 5, "processes, run one after the other: the ratio is also their median")
	prof = flag.String("cpuprofile", "", "write a CPU profile of the measured legs to this file")
	mem  = flag.String("memprofile", "", "write an allocation profile (every allocation sampled) to this file")
)

// The bench's binding types: a trigger that hands over its Executor, an output that discards, and
// an output that evaluates its queueName template in Open.
type trigger struct {
	name string
	got  chan<- named
}

type named struct {
	name string
	exec driver.Executor
}

func (t trigger) Run(ctx context.Context, exec driver.Executor) error {
	t.got <- named{t.name, exec}
	<-ctx.Done()
	return nil
}

// BindingData declares the trigger's binding data as the queue trigger does (its C27 names, and
// "*" for the members of a JSON payload), so templates are bound against it.
func (trigger) BindingData() []string { return []string{"Id", "DequeueCount", "*"} }

type sink struct{}

func (sink) Add(context.Context, any) error { return nil }
func (sink) Flush(context.Context) error    { return nil }

type plainOut struct{}

func (plainOut) Open(context.Context, *driver.FunctionContext) (driver.Sink, error) {
	return sink{}, nil
}

type templOut struct{ t *driver.Template }

var lastName string

func (o templOut) Open(_ context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	name, err := o.t.Eval(fc)
	if err != nil {
		return nil, err
	}
	lastName = name
	return sink{}, nil
}

var execs = make(chan named, 2)

func init() {
	driver.Register(driver.Extension{Name: "benchinvoke", Bindings: []driver.BindingType{
		{Type: "benchInvokeTrigger", NewTrigger: func(_ context.Context, bc *driver.BindContext) (driver.Trigger, error) {
			return trigger{bc.Function, execs}, nil
		}},
		{Type: "benchPlainOut", NewOutput: func(context.Context, *driver.BindContext) (driver.Output, error) {
			return plainOut{}, nil
		}},
		{Type: "benchTemplOut", NewOutput: func(_ context.Context, bc *driver.BindContext) (driver.Output, error) {
			t, err := bc.Template("queueName")
			if err != nil {
				return nil, err
			}
			return templOut{t}, nil
		}},
	}})
}

func main() {
	flag.Parse()
	if *mem != "" {
		runtime.MemProfileRate = 1
	}
	run := run
	if *reps > 1 {
		run = repeat
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/invoke:", err)
		os.Exit(1)
	}
}

type leg struct {
	wall, cpu time.Duration
	mallocs   uint64
	n         int
}

func (l leg) per(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(l.n) }

func run() error {
	h, err := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(),
		Logger:   slog.New(slog.DiscardHandler),
		HostID:   "bench-invoke",
	})
	if err != nil {
		return err
	}
	echo := extension.Func(func(_ context.Context, s string) (string, error) { return s, nil })
	if err := h.Func("plain", echo, extension.Binding("benchInvokeTrigger", "in", extension.DirIn, nil),
		extension.Binding("benchPlainOut", "$return", extension.DirOut, nil)); err != nil {
		return err
	}
	if err := h.Func("templated", echo, extension.Binding("benchInvokeTrigger", "in", extension.DirIn, nil),
		extension.Binding("benchTemplOut", "$return", extension.DirOut, map[string]any{"queueName": "shipped-{ID}"})); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	side := map[string]driver.Executor{}
	for len(side) < 2 {
		select {
		case x := <-execs:
			side[x.name] = x.exec
		case err := <-done:
			return fmt.Errorf("host stopped: %v", err)
		case <-time.After(30 * time.Second):
			return fmt.Errorf("the triggers did not run within 30 s")
		}
	}
	ev := &driver.Event{Data: []byte("hello, world"), Metadata: driver.MapMetadata{"Id": "1"}}
	names := [2]string{"plain", "templated"}
	measure := func(exec driver.Executor, k int) (leg, error) {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		c0, t0 := cpuTime(), time.Now()
		for range k {
			if r := exec.Execute(ctx, ev); r.Status != driver.Succeeded {
				return leg{}, fmt.Errorf("invocation %v: %v", r.Status, r.Err)
			}
		}
		wall, cpu := time.Since(t0), cpuTime()-c0
		runtime.ReadMemStats(&m1)
		return leg{wall: wall, cpu: cpu, mallocs: m1.Mallocs - m0.Mallocs, n: k}, nil
	}
	for _, s := range names { // warm-up
		if _, err := measure(side[s], *n/4); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	if lastName != "shipped-1" {
		return fmt.Errorf("the template evaluated to %q, want shipped-1", lastName)
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *mem != "" {
		defer func() {
			if f, err := os.Create(*mem); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	fmt.Printf("bench/invoke: %d legs of %d invocations, GOMAXPROCS %d\n", *legs, *n, runtime.GOMAXPROCS(0))
	var tot [2]leg
	var pair [2]float64 // wall ns/op of the current ABBA pair's legs
	var pairRatios []float64
	for i := range *legs {
		s := []int{0, 1, 1, 0}[i%4]
		l, err := measure(side[names[s]], *n)
		if err != nil {
			return fmt.Errorf("%s: %w", names[s], err)
		}
		fmt.Printf("  leg %2d %-9s wall %7.0f ns/op  cpu %7.0f ns/op  %.2f allocs/op\n", i+1, names[s], l.per(l.wall), l.per(l.cpu), float64(l.mallocs)/float64(l.n))
		tot[s].wall += l.wall
		tot[s].cpu += l.cpu
		tot[s].mallocs += l.mallocs
		tot[s].n += l.n
		pair[s] = l.per(l.wall)
		if i%2 == 1 {
			pairRatios = append(pairRatios, pair[1]/pair[0])
		}
	}
	for s, name := range names {
		t := tot[s]
		fmt.Printf("%-9s wall %7.0f ns/op  cpu %7.0f ns/op  %.2f allocs/op\n", name, t.per(t.wall), t.per(t.cpu), float64(t.mallocs)/float64(t.n))
	}
	slices.Sort(pairRatios)
	fmt.Printf("pair ratios (templated/plain wall): min %.2f median %.2f max %.2f\n", pairRatios[0], pairRatios[len(pairRatios)/2], pairRatios[len(pairRatios)-1])
	fmt.Printf("ratio (templated/plain): wall %.2f cpu %.2f\n", tot[1].per(tot[1].wall)/tot[0].per(tot[0].wall), tot[1].per(tot[1].cpu)/tot[0].per(tot[0].cpu))
	return nil
}

// repeat runs the bench in *reps child processes, one after the other, and prints the median of
// their ratios: on 2 shared cores one process's ratio can differ from the next one's by 20 %
// (heap and stack placement), more than the legs within a process differ.
func repeat() error {
	var wall, cpu []float64
	for i := range *reps {
		cmd := exec.Command(os.Args[0], "-n", fmt.Sprint(*n), "-legs", fmt.Sprint(*legs), "-procs", "1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("process %d: %w", i+1, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		last := lines[len(lines)-1]
		var w, c float64
		if _, err := fmt.Sscanf(last, "ratio (templated/plain): wall %f cpu %f", &w, &c); err != nil {
			return fmt.Errorf("process %d: unexpected last line %q", i+1, last)
		}
		if i == 0 {
			fmt.Println(lines[0])
		}
		fmt.Printf("process %d: %s | %s | %s\n", i+1, strings.TrimSpace(lines[len(lines)-4]), strings.TrimSpace(lines[len(lines)-3]), last)
		wall, cpu = append(wall, w), append(cpu, c)
	}
	slices.Sort(wall)
	slices.Sort(cpu)
	fmt.Printf("ratio (templated/plain), median of %d processes: wall %.2f cpu %.2f\n", *reps, wall[len(wall)/2], cpu[len(cpu)/2])
	return nil
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
