package timer

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/clocktest"
)

// Ported from Azure/azure-webjobs-sdk-extensions @2e7550f7
// test/WebJobs.Extensions.Tests/Extensions/Timers/Scheduling/ScheduleMonitorTests.cs (the
// schedules there are 5-field: hourly "0 * * * *", half-hourly "*/30 * * * *", daily "0 0 * * *")
// and Listener/TimerListenerTests.cs (InvokeJobFunction_UpdatesScheduleMonitor_AccountsForSkew,
// ClockSkew_IsNotCalculatedPastDue).

func monitorTrigger(t *testing.T, expr string, clk driver.Clock) *trigger {
	t.Helper()
	s, err := ParseSchedule(expr, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	m := extension.NewMemoryStorage()
	return &trigger{name: "TestTimer", sched: s, useMonitor: true, storage: m, leaser: m, clock: clk,
		log: slog.New(slog.DiscardHandler), statusKey: StatusKey("h", "TestTimer"), lockKey: LockKey("h", "TestTimer"), period: time.Minute, retry: time.Minute}
}

func d(h, m, s int) time.Time { return time.Date(2017, 1, 1, h, m, s, 0, time.UTC) }

// stored returns the status checkPastDue wrote (nil when it wrote none).
func stored(t *testing.T, tr *trigger) *ScheduleStatus {
	t.Helper()
	st, _, err := tr.read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCheckPastDueNullStatus(t *testing.T) {
	tr := monitorTrigger(t, "0 0 * * *", driver.SystemClock)
	now := d(9, 35, 0)
	st, _, past := tr.checkPastDue(context.Background(), now, nil, "")
	w := stored(t, tr)
	if past || w == nil || !w.Last.IsZero() || !w.Next.Equal(time.Date(2017, 1, 2, 0, 0, 0, 0, time.UTC)) || !w.LastUpdated.Equal(now) || !st.Next.Equal(w.Next) {
		t.Fatalf("past %v, stored %+v", past, w)
	}
}

func TestCheckPastDue(t *testing.T) {
	for _, tc := range []struct{ lastSet, lastUpdatedSet bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		status := func() *ScheduleStatus {
			s := &ScheduleStatus{Next: d(10, 0, 0)}
			if tc.lastSet {
				s.Last = d(9, 0, 0)
			}
			if tc.lastUpdatedSet {
				s.LastUpdated = d(9, 0, 0)
			}
			return s
		}
		// No schedule change: nothing written, not past due.
		tr := monitorTrigger(t, "0 * * * *", driver.SystemClock)
		if _, _, past := tr.checkPastDue(context.Background(), d(9, 35, 0), status(), ""); past || stored(t, tr) != nil {
			t.Errorf("%+v: CheckPastDue: past %v, wrote %+v", tc, past, stored(t, tr))
		}
		// NowPastNext: one second after Next is past due — unless neither Last nor LastUpdated is set
		// (the legacy case: the next occurrence is recomputed from now).
		tr = monitorTrigger(t, "0 * * * *", driver.SystemClock)
		_, _, past := tr.checkPastDue(context.Background(), d(10, 0, 1), status(), "")
		if tc.lastSet || tc.lastUpdatedSet {
			if !past || stored(t, tr) != nil {
				t.Errorf("%+v: NowPastNext: past %v, wrote %+v", tc, past, stored(t, tr))
			}
		} else if w := stored(t, tr); past || w == nil || !w.Next.Equal(d(11, 0, 0)) || !w.LastUpdated.Equal(d(10, 0, 1)) {
			t.Errorf("%+v: NowPastNext legacy: past %v, wrote %+v", tc, past, w)
		}
		// ScheduleChange_Longer (hourly status, daily schedule): rewritten, not past due.
		tr = monitorTrigger(t, "0 0 * * *", driver.SystemClock)
		_, _, past = tr.checkPastDue(context.Background(), d(9, 35, 0), status(), "")
		w := stored(t, tr)
		wantUpdated := d(9, 35, 0)
		if tc.lastSet || tc.lastUpdatedSet {
			wantUpdated = d(9, 0, 0)
		}
		if past || w == nil || !w.Last.IsZero() || !w.Next.Equal(time.Date(2017, 1, 2, 0, 0, 0, 0, time.UTC)) || !w.LastUpdated.Equal(wantUpdated) {
			t.Errorf("%+v: ScheduleChange_Longer: past %v, wrote %+v", tc, past, w)
		}
		// ScheduleChange_Shorter (half-hourly): the new Next (9:30) is in the past, so it is
		// recomputed from now (10:00) — or, legacy, lines up and nothing is written.
		tr = monitorTrigger(t, "*/30 * * * *", driver.SystemClock)
		_, _, past = tr.checkPastDue(context.Background(), d(9, 35, 0), status(), "")
		w = stored(t, tr)
		if tc.lastSet || tc.lastUpdatedSet {
			if past || w == nil || !w.Last.IsZero() || !w.Next.Equal(d(10, 0, 0)) || !w.LastUpdated.Equal(d(9, 35, 0)) {
				t.Errorf("%+v: ScheduleChange_Shorter: past %v, wrote %+v", tc, past, w)
			}
		} else if past || w != nil {
			t.Errorf("%+v: ScheduleChange_Shorter legacy: past %v, wrote %+v", tc, past, w)
		}
	}
}

// A run that fires 1 ms before its occurrence records the occurrence as Last (so Next moves on),
// and a restart right after does not see it as past due.
func TestClockSkewIsNotPastDue(t *testing.T) {
	for _, expr := range []string{"0 0 0 * * *", "1.00:00:00"} {
		occ := time.Date(2016, 3, 5, 0, 0, 0, 0, time.UTC)
		clk := clocktest.New(occ.Add(-time.Millisecond))
		tr := monitorTrigger(t, expr, clk)
		prev := &ScheduleStatus{Last: time.Date(2016, 3, 4, 0, 0, 0, 0, time.UTC), Next: occ, LastUpdated: time.Date(2016, 3, 4, 0, 0, 0, 0, time.UTC)}
		tag, err := tr.write(context.Background(), prev, "")
		if err != nil {
			t.Fatal(err)
		}
		ran := 0
		st, _ := tr.claimAndRun(context.Background(), execCountT{&ran}, scheduled, occ, prev, tag)
		if ran != 1 || !st.Last.Equal(occ) || !st.Next.Equal(time.Date(2016, 3, 6, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("%q: ran %d, status %+v", expr, ran, st)
		}
		w := stored(t, tr)
		if _, _, past := tr.checkPastDue(context.Background(), time.Date(2016, 3, 5, 1, 0, 0, 0, time.UTC), w, ""); past {
			t.Fatalf("%q: skewed run seen as past due: %+v", expr, w)
		}
	}
}

func (e execCountT) Execute(context.Context, *driver.Event) driver.Result {
	*e.n++
	return driver.Result{}
}

type execCountT struct{ n *int }
