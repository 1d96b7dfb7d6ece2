package timer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/clocktest"
	"github.com/azbind/azbind/internal/testlog"
	"github.com/azbind/azbind/timer"
)

// Every test here runs on a fake clock (clocktest): time moves only when the test advances it.

type run struct {
	host string
	info timer.TimerInfo
	at   time.Time
}

type recorder struct {
	mu   sync.Mutex
	runs []run
}

func (r *recorder) add(host string, info timer.TimerInfo, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, run{host, info, at})
}

func (r *recorder) all() []run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]run(nil), r.runs...)
}

type env struct {
	clk   *clocktest.Fake
	store *extension.MemoryStorage
	rec   *recorder
	logs  *testlog.Buffer
	zone  string // WEBSITE_TIME_ZONE (default UTC)
}

func newEnv(start time.Time) *env {
	m := extension.NewMemoryStorage()
	clk := clocktest.New(start)
	m.Clock = clk
	return &env{clk: clk, store: m, rec: &recorder{}, logs: &testlog.Buffer{}}
}

// start runs one host with function Tick on e's clock and storage; it stops at test end.
func (e *env) start(t *testing.T, hostName string, bindings ...*driver.BindingSpec) {
	t.Helper()
	zone := e.zone
	if zone == "" {
		zone = "UTC"
	}
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"WEBSITE_TIME_ZONE": zone}))
	h, err := extension.NewHost(extension.HostOptions{
		Settings: settings, Storage: e.store, Clock: e.clk, HostID: "timertest",
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Func("Tick", extension.Action(func(_ context.Context, info timer.TimerInfo) error {
		e.rec.add(hostName, info, e.clk.Now())
		return nil
	}), bindings...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("host %s: %v", hostName, err)
		}
	})
}

// advanceTo moves the clock deadline by deadline (so every sleeper wakes in order) up to t,
// waiting each time until the trigger is asleep again.
func (e *env) advanceTo(t *testing.T, until time.Time, sleepers int) {
	t.Helper()
	for {
		clocktest.WaitFor(t, "the triggers to sleep", func() bool { return e.clk.Sleepers() >= sleepers })
		next, ok := e.clk.NextDeadline()
		if !ok || next.After(until) {
			e.clk.Set(until)
			return
		}
		e.clk.Set(next)
	}
}

func (e *env) status(t *testing.T) (timer.ScheduleStatus, string) {
	t.Helper()
	rec, err := e.store.Get(context.Background(), timer.StatusKey("timertest", "Tick"))
	if err != nil {
		t.Fatal(err)
	}
	var st timer.ScheduleStatus
	if err := json.Unmarshal(rec.Data, &st); err != nil {
		t.Fatal(err)
	}
	return st, string(rec.Data)
}

var t0 = time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)

// Runs on schedule; TimerInfo.ScheduleStatus is the status before the run (Next = this
// occurrence), and the status blob is Functions' shape and layout.
func TestRunsOnSchedule(t *testing.T) {
	e := newEnv(t0)
	e.start(t, "a", timer.Trigger("info", "0 * * * * *"))
	// sleepers: the lease renewer and the schedule
	e.advanceTo(t, t0.Add(3*time.Minute+10*time.Second), 2)
	clocktest.WaitFor(t, "3 runs", func() bool { return len(e.rec.all()) == 3 })
	for i, r := range e.rec.all() {
		want := time.Date(2026, 1, 1, 0, i+1, 0, 0, time.UTC)
		if !r.at.Equal(want) || r.info.IsPastDue || r.info.ScheduleStatus == nil || !r.info.ScheduleStatus.Next.Equal(want) || !r.info.Schedule.AdjustForDST {
			t.Errorf("run %d at %v: %+v, want at %v with ScheduleStatus.Next = it", i, r.at, r.info, want)
		}
	}
	st, raw := e.status(t)
	if !st.Last.Equal(time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC)) || !st.Next.Equal(time.Date(2026, 1, 1, 0, 4, 0, 0, time.UTC)) {
		t.Errorf("status %s", raw)
	}
	if raw != `{"Last":"2026-01-01T00:03:00+00:00","Next":"2026-01-01T00:04:00+00:00","LastUpdated":"2026-01-01T00:03:00+00:00"}` {
		t.Errorf("status blob = %s", raw)
	}
}

// ScheduleMonitor.CheckPastDueAsync + TimerListenerTests.StartAsync_SchedulePastDue_SchedulesImmediateInvocation:
// a missed occurrence gives one run with IsPastDue, and past-due beats runOnStartup (one run).
func TestPastDueRunsOnceAndBeatsRunOnStartup(t *testing.T) {
	e := newEnv(t0.Add(5 * time.Minute)) // 00:05:30
	prior := `{"Last":"2026-01-01T00:00:00+00:00","Next":"2026-01-01T00:01:00+00:00","LastUpdated":"2026-01-01T00:00:00+00:00"}`
	if _, err := e.store.Put(context.Background(), timer.StatusKey("timertest", "Tick"), driver.Record{Data: []byte(prior)}, driver.Cond{}); err != nil {
		t.Fatal(err)
	}
	e.start(t, "a", timer.Trigger("info", "0 * * * * *", driver.Props{"runOnStartup": true}))
	clocktest.WaitFor(t, "the past-due run", func() bool { return len(e.rec.all()) == 1 })
	r := e.rec.all()[0]
	if !r.info.IsPastDue || !r.at.Equal(t0.Add(5*time.Minute)) || !r.info.ScheduleStatus.Next.Equal(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)) {
		t.Fatalf("past-due run: %+v at %v", r.info, r.at)
	}
	e.advanceTo(t, time.Date(2026, 1, 1, 0, 6, 10, 0, time.UTC), 2)
	clocktest.WaitFor(t, "the 00:06 run", func() bool { return len(e.rec.all()) == 2 })
	if r := e.rec.all()[1]; r.info.IsPastDue || !r.at.Equal(time.Date(2026, 1, 1, 0, 6, 0, 0, time.UTC)) {
		t.Fatalf("second run: %+v at %v", r.info, r.at)
	}
	if strings.Count(e.logs.String(), "is past due on startup. Executing now.") != 1 || strings.Contains(e.logs.String(), "configured to run on startup") {
		t.Fatalf("logs:\n%s", e.logs.String())
	}
}

// TimerListenerTests.StartAsync_RunOnStartup_SchedulesImmediateInvocation; a frequent schedule
// switches the monitor off (TimerScheduleTests.Create_ConstantSchedule) so TimerInfo has no status.
func TestRunOnStartupAndFrequentSchedule(t *testing.T) {
	e := newEnv(t0)
	e.start(t, "a", timer.Trigger("info", "00:00:15", driver.Props{"runOnStartup": "true"}))
	clocktest.WaitFor(t, "the startup run", func() bool { return len(e.rec.all()) == 1 })
	e.advanceTo(t, t0.Add(31*time.Second), 2)
	clocktest.WaitFor(t, "3 runs", func() bool { return len(e.rec.all()) == 3 })
	for i, r := range e.rec.all() {
		if want := t0.Add(time.Duration(i) * 15 * time.Second); !r.at.Equal(want) || r.info.IsPastDue || r.info.ScheduleStatus != nil || r.info.Schedule.AdjustForDST {
			t.Errorf("run %d: %+v at %v, want at %v without status", i, r.info, r.at, want)
		}
	}
	if !strings.Contains(e.logs.String(), "UseMonitor changed to false based on schedule frequency.") {
		t.Errorf("no UseMonitor message:\n%s", e.logs.String())
	}
}

// Three hosts, one schedule: the listener lock lets one run it; each occurrence runs once.
func TestThreeHostsOneRunPerOccurrence(t *testing.T) {
	e := newEnv(t0)
	for _, h := range []string{"a", "b", "c"} {
		e.start(t, h, timer.Trigger("info", "0 * * * * *"))
	}
	// one holder (renewer + schedule), two losers waiting to retry
	e.advanceTo(t, t0.Add(10*time.Minute+5*time.Second), 4)
	clocktest.WaitFor(t, "10 runs", func() bool { return len(e.rec.all()) >= 10 })
	seen := map[time.Time]int{}
	hosts := map[string]bool{}
	for _, r := range e.rec.all() {
		seen[r.at]++
		hosts[r.host] = true
	}
	if len(hosts) != 1 {
		t.Errorf("runs on hosts %v, want only the lock holder", hosts)
	}
	if len(e.rec.all()) != 10 || len(seen) != 10 {
		t.Fatalf("runs %+v", e.rec.all())
	}
}

// Bad declarations fail at load with one clear line.
func TestBadDeclarations(t *testing.T) {
	for _, tc := range []struct {
		spec *driver.BindingSpec
		want string
	}{
		{timer.Trigger("info", "every day"), "The schedule expression 'every day' was not recognized as a valid cron expression or timespan string: check it with `azbind timer next '<schedule>'`"},
		{timer.Trigger("info", ""), "schedule: is required"},
		{timer.Trigger("info", "0 * * * * *", driver.Props{"runOnStartup": "yes please"}), "runOnStartup: must be a boolean"},
	} {
		h, err := extension.NewHost(extension.HostOptions{Storage: extension.NewMemoryStorage(), Logger: slog.New(slog.DiscardHandler), HostID: "x",
			Settings: connection.NewSettings(connection.FromMap("test", map[string]string{}))})
		if err != nil {
			t.Fatal(err)
		}
		_ = h.Func("Tick", extension.Action(func(context.Context, timer.TimerInfo) error { return nil }), tc.spec)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = h.Run(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run: %v, want %q", err, tc.want)
		}
	}
}

// The testdata app folder (Tick: timerTrigger, schedule %TICK_SCHEDULE%, host.json
// extensions.timers) loads and runs; its host.json lock period is used.
func TestAppFolderLoads(t *testing.T) {
	e := newEnv(t0)
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"TICK_SCHEDULE": "0 */5 * * * *", "WEBSITE_TIME_ZONE": "UTC"}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Storage: e.store, Clock: e.clk, HostID: "timertest",
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LoadAppDir("testdata/app"); err != nil {
		t.Fatal(err)
	}
	h.Handle("Tick", extension.Action(func(_ context.Context, info timer.TimerInfo) error {
		e.rec.add("app", info, e.clk.Now())
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	clocktest.WaitFor(t, "the renewer and the schedule to sleep", func() bool { return e.clk.Sleepers() >= 2 })
	// the lease (15 s in host.json) is renewed at 7.5 s
	if at, _ := e.clk.NextDeadline(); at.Sub(e.clk.Now()) != 7500*time.Millisecond {
		t.Fatalf("first deadline in %v, want the renewal at 7.5s", at.Sub(e.clk.Now()))
	}
	e.advanceTo(t, time.Date(2026, 1, 1, 0, 5, 1, 0, time.UTC), 2)
	clocktest.WaitFor(t, "the 00:05 run", func() bool { return len(e.rec.all()) == 1 })
	if r := e.rec.all()[0]; !r.at.Equal(time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)) {
		t.Fatalf("run at %v", r.at)
	}
}

// A handler may take no parameter; and a host with only the memory storage it fell back to
// (no AzureWebJobsStorage) refuses the timer at load, naming the setting.
func TestNoParameterAndNeedsDurableStorage(t *testing.T) {
	e := newEnv(t0)
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"WEBSITE_TIME_ZONE": "UTC"}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Storage: e.store, Clock: e.clk, HostID: "timertest", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{}, 10)
	if err := h.Func("Tick", extension.Reflect(func(context.Context) error { ran <- struct{}{}; return nil }), timer.Trigger("info", "0 * * * * *", driver.Props{"runOnStartup": true})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-ran:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("no startup run")
	}
	cancel()
	<-done

	h2, err := extension.NewHost(extension.HostOptions{Settings: connection.NewSettings(connection.FromMap("test", map[string]string{})), HostID: "x", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	_ = h2.Func("Tick", extension.Reflect(func(context.Context) error { return nil }), timer.Trigger("info", "0 * * * * *"))
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	if err := h2.Run(ctx2); err == nil || !strings.Contains(err.Error(), "AzureWebJobsStorage") {
		t.Fatalf("Run without durable storage: %v", err)
	}
}

// Without the monitor there is no catch-up: a status left behind hours ago (by a host that
// stopped) does not make the new holder run a stale occurrence at once.
func TestNoCatchUpWithoutMonitor(t *testing.T) {
	e := newEnv(t0)
	old := `{"Last":"2025-12-31T20:00:00+00:00","Next":"2025-12-31T20:00:15+00:00","LastUpdated":"2025-12-31T20:00:00+00:00"}`
	if _, err := e.store.Put(context.Background(), timer.StatusKey("timertest", "Tick"), driver.Record{Data: []byte(old)}, driver.Cond{}); err != nil {
		t.Fatal(err)
	}
	e.start(t, "a", timer.Trigger("info", "00:00:15"))
	e.advanceTo(t, t0.Add(20*time.Second), 2)
	clocktest.WaitFor(t, "the first run", func() bool { return len(e.rec.all()) == 1 })
	if r := e.rec.all()[0]; !r.at.Equal(t0.Add(15*time.Second)) || r.info.IsPastDue {
		t.Fatalf("first run %+v at %v, want a regular run 15 s after start", r.info, r.at)
	}
}

// The trigger follows the zone's wall clock through the end of DST (Pacific, 2018-11-04): the
// point-in-time 01:30 runs once that day, an hourly interval runs in both copies of 01:00.
func TestDSTFallBackOnTheClock(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"0 30 1 * * *", []string{"2018-11-04T01:30:00-07:00", "2018-11-05T01:30:00-08:00"}},
		{"0 0 * * * *", []string{"2018-11-04T01:00:00-07:00", "2018-11-04T01:00:00-08:00", "2018-11-04T02:00:00-08:00"}},
	} {
		start := time.Date(2018, 11, 4, 0, 30, 0, 0, la)
		end := time.Date(2018, 11, 5, 2, 0, 0, 0, la)
		if len(tc.want) == 3 {
			end = time.Date(2018, 11, 4, 2, 30, 0, 0, la)
		}
		e := newEnv(start)
		e.zone = "Pacific Standard Time"
		e.start(t, "a", timer.Trigger("info", tc.expr))
		e.advanceTo(t, end, 2)
		clocktest.WaitFor(t, "the runs", func() bool { return len(e.rec.all()) >= len(tc.want) })
		var got []string
		for _, r := range e.rec.all() {
			got = append(got, r.at.In(la).Format(time.RFC3339))
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: runs %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// A failing run never stops the schedule (TimerListenerTests.InvokeJobFunction_HandlesExceptions).
func TestFailuresDoNotStopTheSchedule(t *testing.T) {
	e := newEnv(t0)
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"WEBSITE_TIME_ZONE": "UTC"}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Storage: e.store, Clock: e.clk, HostID: "timertest", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var at []time.Time
	_ = h.Func("Tick", extension.Action(func(_ context.Context, info *timer.TimerInfo) error {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, e.clk.Now())
		if info == nil {
			return nil
		}
		panic("kaboom")
	}), timer.Trigger("info", "0 * * * * *"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.advanceTo(t, t0.Add(3*time.Minute), 2)
	clocktest.WaitFor(t, "3 failed runs", func() bool { mu.Lock(); defer mu.Unlock(); return len(at) >= 3 })
	mu.Lock()
	defer mu.Unlock()
	for i, a := range at {
		if want := time.Date(2026, 1, 1, 0, i+1, 0, 0, time.UTC); !a.Equal(want) {
			t.Errorf("run %d at %v, want %v", i, a, want)
		}
	}
}
