package timer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/subproc"
	"github.com/azbind/azbind/timer"
)

const killHostEnv = "AZBIND_TIMER_KILL_HOST"

func TestMain(m *testing.M) {
	if v := os.Getenv(killHostEnv); v != "" {
		os.Exit(runKillHost(v))
	}
	os.Exit(m.Run())
}

// runKillHost is a child of TestKilledLockHolders: a real host on the testdata app folder (its
// Tick function on a 1-second schedule) that prints "begin <occurrence>" when a run starts and
// "end <occurrence>" when it finishes; each run takes 300 ms of simulated work.
func runKillHost(connStr string) int {
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{
		"AzureWebJobsStorage": connStr, "TICK_SCHEDULE": "* * * * * *", "WEBSITE_TIME_ZONE": "UTC",
	}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, HostID: "killtest",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := h.LoadAppDir("testdata/app"); err != nil {
		fmt.Println("error", err)
		return 1
	}
	h.Handle("Tick", extension.Action(func(ctx context.Context, _ timer.TimerInfo) error {
		occ, _ := extension.FromContext(ctx).BindingData("OccurrenceTime")
		fmt.Println("begin", occ)
		time.Sleep(300 * time.Millisecond) // the work a kill interrupts (not synchronisation)
		fmt.Println("end", occ)
		return nil
	}))
	fmt.Println("started")
	if err := h.Run(context.Background()); err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// Three host processes on one Azurite run a 1-second schedule; the lock holder is SIGKILLed in
// the middle of a run, twice. Counted by occurrence time, every occurrence started on exactly one
// host (at most once, the documented rule: a run killed halfway is not run again), the schedule
// resumed on another host after each kill (within the lease period plus the retry interval), and
// the occurrences no host ran are only those of the two takeover gaps.
//
// AZBIND_TIMER_KILL_DURATION sets how long it runs (default 40s; the figure is 2m).
func TestKilledLockHolders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 40 s")
	}
	duration := 40 * time.Second
	if v := os.Getenv("AZBIND_TIMER_KILL_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("AZBIND_TIMER_KILL_DURATION: %v", err)
		}
		duration = d
	}
	az := emulator.StartAzurite(t, nil)
	type event struct {
		child int
		kind  string // begin, end
		occ   string
	}
	events := make(chan event, 4096)
	children := make([]*subproc.Child, 3)
	for i := range children {
		c := subproc.Start(t, killHostEnv, az.ConnectionString)
		children[i] = c
		select {
		case line := <-c.Lines:
			if line != "started" {
				t.Fatalf("host %d: %q", i, line)
			}
		case <-time.After(time.Minute):
			t.Fatalf("host %d did not start", i)
		}
		go func() {
			for line := range c.Lines {
				kind, occ, _ := strings.Cut(line, " ")
				events <- event{i, kind, occ}
			}
		}()
	}
	begins := map[string][]int{}
	ended := map[string]bool{}
	var mu sync.Mutex
	killed := map[int]string{} // child -> the occurrence it was killed in
	var kills []time.Time
	var resumed []time.Duration
	start := time.Now()
	deadline := start.Add(duration)
	for time.Now().Before(deadline) || len(kills) < 2 || len(resumed) < 2 {
		if time.Since(start) > duration+3*time.Minute {
			t.Fatalf("gave up: kills %v, resumed %v", kills, resumed)
		}
		var ev event
		select {
		case ev = <-events:
		case <-time.After(time.Minute):
			t.Fatalf("no run for a minute (kills %d, resumed %v)", len(kills), resumed)
		}
		if ev.kind == "error" {
			t.Fatalf("host %d: %s", ev.child, ev.occ)
		}
		if _, dead := killed[ev.child]; dead {
			continue // lines the pipe still held
		}
		mu.Lock()
		switch ev.kind {
		case "begin":
			begins[ev.occ] = append(begins[ev.occ], ev.child)
			if len(resumed) < len(kills) {
				resumed = append(resumed, time.Since(kills[len(kills)-1]))
			}
			// Kill the holder mid-run: 5 s in, and again once another host took over.
			if len(kills) < 2 && len(resumed) == len(kills) && time.Since(start) > 5*time.Second {
				children[ev.child].Kill()
				killed[ev.child] = ev.occ
				kills = append(kills, time.Now())
			}
		case "end":
			ended[ev.occ] = true
		}
		mu.Unlock()
	}
	for _, c := range children {
		c.Kill()
	}
	occs := make([]string, 0, len(begins))
	dups := 0
	for occ, hosts := range begins {
		occs = append(occs, occ)
		if len(hosts) != 1 {
			dups++
			t.Errorf("occurrence %s started on hosts %v", occ, hosts)
		}
	}
	sort.Strings(occs)
	for _, occ := range killed {
		if ended[occ] {
			t.Errorf("the run of %s finished although its host was killed", occ)
		}
	}
	first, _ := time.Parse(time.RFC3339Nano, occs[0])
	last, _ := time.Parse(time.RFC3339Nano, occs[len(occs)-1])
	span := int(last.Sub(first)/time.Second) + 1
	// Each takeover may miss up to the lease period (15 s) plus the retry (1 s) plus slack.
	if missed := span - len(occs); missed > 2*20 {
		t.Errorf("%d of %d occurrences not run: more than two takeover gaps", missed, span)
	}
	t.Logf("kill test: %s, %d occurrences in %d s ran, %d duplicates, 2 kills mid-run, takeovers after %v", time.Since(start).Round(time.Second), len(occs), span, dups, resumed)
}
