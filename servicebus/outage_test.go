package servicebus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// A trigger whose queue does not exist yet keeps retrying with back-off, as the Functions listener
// does, and follows the one severity rule for connection failures: one ERROR line for the outage
// (saying the entity is missing and that it retries), DEBUG for every retry, one INFO line once
// it receives (driver.Outage; issue 25).
func TestMissingEntityRetriedWithOneErrorThenInfo(t *testing.T) {
	t.Parallel()
	q := entityName(t)
	handled := make(chan string, 1)
	h := startHost(t, hostCfg{}, "Late", extension.Action(func(ctx context.Context, s string) error {
		handled <- s
		return nil
	}), servicebus.Trigger("s", q))
	count := func(level, text string) int {
		n := 0
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, "level="+level) && strings.Contains(l, text) {
				n++
			}
		}
		return n
	}
	eventually(t, func() string {
		if n := count("DEBUG", "failed again"); n < 2 {
			return fmt.Sprintf("%d retries logged so far", n)
		}
		return ""
	})
	newQueue(t, amqppeer.Queue{Name: q})
	send(t, q, "hello")
	select {
	case s := <-handled:
		if s != "hello" {
			t.Errorf("handled %q", s)
		}
	case <-time.After(waitLong):
		t.Fatalf("the message sent once the queue existed was not handled:\n%s", h.logs.String())
	}
	eventually(t, func() string {
		if count("INFO", "recovered") != 1 {
			return "no INFO line for the recovery"
		}
		return ""
	})
	if n := count("ERROR", "does not exist"); n != 1 {
		t.Errorf("%d ERROR lines for the missing entity, want 1:\n%s", n, h.logs.String())
	}
	if n := count("ERROR", ""); n != 1 {
		t.Errorf("%d ERROR lines in all, want 1", n)
	}
}
