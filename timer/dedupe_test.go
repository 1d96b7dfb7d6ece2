package timer

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/clocktest"
)

// counter counts runs by event ID (the occurrence) across hosts.
type counter struct {
	mu   sync.Mutex
	runs map[string]int
	log  []string
}

type hostExec struct {
	c    *counter
	host string
}

func (h hostExec) Execute(_ context.Context, ev *driver.Event) driver.Result {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	h.c.runs[ev.ID]++
	h.c.log = append(h.c.log, h.host+" "+ev.ID)
	return driver.Result{}
}

// The duplicate guarantee without the lock: two hosts that both hold "the" listener lock (each
// its own lease — what a lost lease looks like to the one that has not noticed yet) share the
// status blob, and every occurrence still runs once, because each is recorded with If-Match
// before it runs and a host that finds it recorded skips it.
func TestTwoLeadersOneRunPerOccurrence(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 500, time.UTC)
	clk := clocktest.New(start)
	status := extension.NewMemoryStorage()
	sched, err := ParseSchedule("*/10 * * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{runs: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		own := extension.NewMemoryStorage()
		own.Clock = clk
		tr := &trigger{name: "Tick", sched: sched, useMonitor: false, storage: status, leaser: own, clock: clk,
			log: slog.New(slog.DiscardHandler), statusKey: StatusKey("h", "Tick"), lockKey: LockKey("h", "Tick"), period: time.Minute, retry: time.Minute}
		wg.Go(func() { _ = tr.Run(ctx, hostExec{c: c, host: name}) })
	}
	end := start.Add(5 * time.Minute)
	for clk.Now().Before(end) {
		clocktest.WaitFor(t, "both leaders asleep", func() bool { return clk.Sleepers() >= 4 })
		next, _ := clk.NextDeadline()
		clk.Set(next)
	}
	cancel()
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.runs) < 29 {
		t.Fatalf("%d occurrences ran: %v", len(c.runs), c.log)
	}
	for id, n := range c.runs {
		if n != 1 {
			t.Errorf("%s ran %d times: %v", id, n, c.log)
		}
	}
}

// TimerInfo serialises as Functions hands it to custom handlers; the status blob reads what
// Functions wrote (Newtonsoft ISO with 7 fraction digits) and writes it back the same.
func TestTimerInfoJSON(t *testing.T) {
	functions := `{"Last":"2019-05-15T08:00:00.0030470+00:00","Next":"2019-05-16T08:00:00+00:00","LastUpdated":"2019-05-15T08:00:00.003047+00:00"}`
	var st ScheduleStatus
	if err := json.Unmarshal([]byte(functions), &st); err != nil {
		t.Fatal(err)
	}
	if st.Last.Nanosecond() != 3047000 || !st.Next.Equal(time.Date(2019, 5, 16, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("parsed %+v", st)
	}
	b, _ := json.Marshal(TimerInfo{Schedule: ScheduleInfo{AdjustForDST: true}, ScheduleStatus: &st})
	want := `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2019-05-15T08:00:00.003047+00:00","Next":"2019-05-16T08:00:00+00:00","LastUpdated":"2019-05-15T08:00:00.003047+00:00"},"IsPastDue":false}`
	if string(b) != want {
		t.Fatalf("TimerInfo JSON\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(TimerInfo{IsPastDue: true})
	if string(b) != `{"Schedule":{"AdjustForDST":false},"ScheduleStatus":null,"IsPastDue":true}` {
		t.Fatalf("no status: %s", b)
	}
	b, _ = json.Marshal(ScheduleStatus{Next: time.Date(2018, 11, 4, 1, 30, 0, 0, time.FixedZone("PDT", -7*3600))})
	if string(b) != `{"Last":"0001-01-01T00:00:00+00:00","Next":"2018-11-04T01:30:00-07:00","LastUpdated":"0001-01-01T00:00:00+00:00"}` {
		t.Fatalf("default dates: %s", b)
	}
}
