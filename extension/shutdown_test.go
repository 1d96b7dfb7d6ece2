package extension_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
)

// drain deadline waiting for a retry that will not run.
func TestShutdownDuringRetryWait(t *testing.T) {
	name, q := newQueue(t)
	o := opts(nil)
	o.ShutdownTimeout = 20 * time.Second
	o.HostConfig = &extension.HostConfig{Retry: &extension.RetryPolicy{Strategy: extension.FixedDelay, MaxRetryCount: -1, DelayInterval: time.Hour}}
	failed := make(chan struct{}, 1)
	host, err := extension.NewHost(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Func("retrying", extension.Action(func(ctx context.Context, s string) error {
		select {
		case failed <- struct{}{}:
		default:
		}
		return errors.New("always fails")
	}), trig(name)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	q.Send([]byte("x"))
	select {
	case <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("no invocation")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still waiting on a retry delay 5 s after shutdown began")
		<-done
	}
	if n := q.Pending(); n != 1 || len(q.Acked()) != 0 {
		t.Errorf("pending = %d, acked = %d: the item must be released, not acknowledged", n, len(q.Acked()))
	}
}
