package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/queue/queuetest"
)

const recoveryHelperEnv = "AZBIND_QUEUE_RECOVERY_HELPER"

// runRecoveryHelper is the child process of TestKilledHostRecoveryTime: a queueTrigger built
// from host.json options (as a host builds it) whose handler announces the message and hangs.
func runRecoveryHelper() int {
	var arg struct{ ConnStr, Queue, Visibility string }
	if err := testhost.HelperConfig(recoveryHelperEnv, &arg); err != nil {
		fmt.Println("error", err)
		return 1
	}
	cfg := map[string]any{"maxPollingInterval": "00:00:00.2"}
	if arg.Visibility != "" {
		cfg["receiveVisibility"] = arg.Visibility
	}
	res := helperResolver{connStr: arg.ConnStr}
	host, err := testhost.NewServices(extension.HostOptions{Logger: slogDiscard(), Connections: res, Concurrency: 1})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	bc := &driver.BindContext{Function: "F", Spec: Trigger("msg", arg.Queue), Param: reflect.TypeFor[string](), Config: cfg, Host: host}
	bc.Spec.Where = "Go API: F: bindings[0]"
	tr, err := newTrigger(context.Background(), bc)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	tr.(*trigger).Run(context.Background(), execFunc(func(ctx context.Context, ev *driver.Event) driver.Result {
		testhost.Hang(ev.ID)
		return driver.Result{}
	}))
	return 0
}

// How long after a host is SIGKILLed mid-handler does another receiver get its message? The
// receive visibility (30 s by default, host.json extensions.queues.receiveVisibility) bounds it:
// nothing renews it once the process is gone. Functions keeps such messages for 10 minutes.
// Set AZBIND_MEASURE_DEFAULT_VISIBILITY=1 to measure with the default instead of 5 s.
func TestKilledHostRecoveryTime(t *testing.T) {
	visibility, setting := 5*time.Second, "00:00:05"
	if os.Getenv("AZBIND_MEASURE_DEFAULT_VISIBILITY") == "1" {
		visibility, setting = DefaultReceiveVisibility, ""
	}
	q := env.NewQueue(t)
	id := env.Send(t, q, []byte("survivor"))
	arg, _ := json.Marshal(map[string]string{"ConnStr": env.ConnectionString, "Queue": q, "Visibility": setting})
	child, line := testhost.StartKillHelper(t, recoveryHelperEnv, string(arg), waitLong)
	received := time.Now() // the message became invisible just before
	child.Kill()
	killed := time.Now()
	if line != "started "+id {
		t.Fatalf("helper said %q", line)
	}

	got := make(chan time.Time, 1)
	l := testListener(t, q, ListenerOptions{MaxPollingInterval: 200 * time.Millisecond}, func(ctx context.Context, m *Message) driver.Result {
		if m.ID == id {
			select {
			case got <- time.Now():
			default:
			}
		}
		return ok
	})
	runBG(t, l.Run)
	select {
	case at := <-got:
		recovery := at.Sub(killed)
		sinceReceive := at.Sub(received)
		t.Logf("receive visibility %s: message taken over %.1f s after the kill (%.1f s after the dead host received it)", visibility, recovery.Seconds(), sinceReceive.Seconds())
		// Not before the visibility ends (the dead host's receive holds it), and within the
		// visibility plus polling and request slack after it.
		if sinceReceive < visibility-time.Second || sinceReceive > visibility+5*time.Second {
			t.Errorf("redelivered %.1f s after receive; want about %s", sinceReceive.Seconds(), visibility)
		}
	case <-time.After(visibility + waitLong):
		t.Fatal("the killed host's message was not redelivered")
	}
	queuetest.WaitFor(t, waitLong, "message deleted", func() bool { return l.Stats().Deleted == 1 })
}

// helperResolver resolves every connection to the test account (the child has no env global).
type helperResolver struct{ connStr string }

func (r helperResolver) Resolve(ctx context.Context, name string, svc connection.Service) (*connection.Connection, error) {
	return &connection.Connection{Name: name, Service: svc, Source: "test", Key: name, Kind: connection.KindConnectionString, ConnectionString: r.connStr}, nil
}
