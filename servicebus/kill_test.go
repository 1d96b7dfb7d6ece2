package servicebus_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/servicebus"
)

const killHelperEnv = "AZBIND_SERVICEBUS_KILL_HELPER"

// runKillHelper is the child process of TestKilledHostLosesNothing: a host whose handler
// announces the message and hangs until the parent kills the process.
func runKillHelper() int {
	connStr, q, _ := strings.Cut(os.Getenv(killHelperEnv), "|")
	h, err := extension.NewHost(extension.HostOptions{Settings: connection.NewSettings(connection.FromMap("helper", map[string]string{"AzureWebJobsServiceBus": connStr}))})
	if err == nil {
		err = h.Func("Hang", extension.Action(func(ctx context.Context, s string) error {
			testhost.Hang(s)
			return nil
		}), servicebus.Trigger("s", q))
	}
	return testhost.RunHelper(h, err)
}

// A host killed mid-handler loses nothing: its locked message comes back (lock expiry or the
// dropped connection) and another host handles it.
func TestKilledHostLosesNothing(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{LockDuration: 2 * time.Second})
	send(t, q, "survivor")
	child, line := testhost.StartKillHelper(t, killHelperEnv, peer.ConnectionString+"|"+q, waitLong)
	child.Kill()
	if line != "started survivor" {
		t.Fatalf("helper said %q", line)
	}

	got := make(chan int, 1)
	startHost(t, hostCfg{}, "Survive", extension.Action(func(ctx context.Context, s string) error {
		n, _ := extension.FromContext(ctx).BindingData("DeliveryCount")
		got <- n.(int)
		return nil
	}), servicebus.Trigger("s", q))
	select {
	case n := <-got:
		if n != 2 {
			t.Errorf("redelivered with delivery count %d, want 2", n)
		}
	case <-time.After(waitLong):
		t.Fatal("the killed host's message was not redelivered")
	}
	wantCounts(t, q, amqppeer.Counts{})
}
