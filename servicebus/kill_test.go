package servicebus_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/subproc"
	"github.com/azbind/azbind/servicebus"
)

const killHelperEnv = "AZBIND_SERVICEBUS_KILL_HELPER"

// runKillHelper is the child process of TestKilledHostLosesNothing: a host whose handler
// announces the message and hangs until the parent kills the process.
func runKillHelper() int {
	connStr, q, _ := strings.Cut(os.Getenv(killHelperEnv), "|")
	h, err := extension.NewHost(extension.HostOptions{Settings: connection.NewSettings(connection.FromMap("helper", map[string]string{"AzureWebJobsServiceBus": connStr}))})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	err = h.Func("Hang", extension.Action(func(ctx context.Context, s string) error {
		fmt.Println("started", s)
		select {} // until killed
	}), servicebus.Trigger("s", q))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := h.Run(context.Background()); err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// A host killed mid-handler loses nothing: its locked message comes back (lock expiry or the
// dropped connection) and another host handles it.
func TestKilledHostLosesNothing(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{LockDuration: 2 * time.Second})
	send(t, q, "survivor")
	child := subproc.Start(t, killHelperEnv, peer.ConnectionString+"|"+q)
	cmd, lines := child.Cmd, child.Lines
	select {
	case line := <-lines:
		if line != "started survivor" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper said %q", line)
		}
	case <-time.After(waitLong):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper did not start handling")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

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
