package queue

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/queue/queuetest"
)

const killHelperEnv = "AZBIND_QUEUE_KILL_HELPER"

// runKillHelper is the child process of TestKilledHostLosesNothing: it runs a listener whose
// handler announces the message and then hangs, until the parent kills the process.
func runKillHelper() int {
	connStr, q, _ := strings.Cut(os.Getenv(killHelperEnv), "|")
	e, err := queuetest.New(connStr)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	l := NewListener(e.Queue(q), e.Queue(PoisonQueueName(q)), ListenerOptions{ReceiveVisibility: 2 * time.Second, MaxPollingInterval: 200 * time.Millisecond},
		func(ctx context.Context, m *Message) driver.Result {
			testhost.Hang(m.ID)
			return ok
		})
	l.Run(context.Background())
	return 0
}

// A host killed mid-handler loses nothing: the message reappears once its receive visibility
// ends (no renewal from a dead process) and another host processes it (§3.1 step 10).
func TestKilledHostLosesNothing(t *testing.T) {
	q := env.NewQueue(t)
	id := env.Send(t, q, []byte("survivor"))
	child, line := testhost.StartKillHelper(t, killHelperEnv, env.ConnectionString+"|"+q, waitLong)
	child.Kill()
	if line != "started "+id {
		t.Fatalf("helper said %q", line)
	}

	got := make(chan *Message, 1)
	l := testListener(t, q, ListenerOptions{}, func(ctx context.Context, m *Message) driver.Result {
		got <- m
		return ok
	})
	runBG(t, l.Run)
	select {
	case m := <-got:
		if m.ID != id || string(m.Body) != "survivor" || m.DequeueCount != 2 {
			t.Errorf("redelivered %+v, want id %s with dequeue count 2", m, id)
		}
	case <-time.After(waitLong):
		t.Fatal("the killed host's message was not redelivered")
	}
	queuetest.WaitFor(t, waitLong, "message deleted", func() bool { return l.Stats().Deleted == 1 })
}
