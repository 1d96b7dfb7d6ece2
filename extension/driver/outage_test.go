package driver_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// One severity rule for connection failures: ERROR once per outage, DEBUG for repeats, INFO once
// on recovery with the outage's length; a second outage is reported again.
func TestOutageLogsOncePerOutage(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := driver.NewOutage(log, clk, "receiving from queue q")
	o.OK() // healthy: nothing logged
	for range 5 {
		o.Fail(errors.New("dial tcp: connection refused"))
	}
	clk.t = clk.t.Add(90 * time.Second)
	o.OK()
	o.OK()
	o.Fail(errors.New("again"))
	out := buf.String()
	if n := strings.Count(out, "level=ERROR"); n != 2 {
		t.Errorf("ERROR lines = %d, want 2 (one per outage):\n%s", n, out)
	}
	if n := strings.Count(out, "level=DEBUG"); n != 4 {
		t.Errorf("DEBUG lines = %d, want 4 repeats:\n%s", n, out)
	}
	if n := strings.Count(out, "level=INFO msg=\"receiving from queue q recovered\" outage=1m30s failed_attempts=5"); n != 1 {
		t.Errorf("want one recovery line with the outage length and attempts:\n%s", out)
	}
	if !o.Down() {
		t.Error("Down() = false during the second outage")
	}
}
