package extension_test

import (
	"context"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
)

// would write them again (Sink.Flush only for succeeded invocations).
func TestTimedOutHandlerOutputsNotFlushed(t *testing.T) {
	name, q := newQueue(t)
	outName, outQ := newQueue(t)
	o := opts(nil)
	o.HostConfig = &extension.HostConfig{FunctionTimeout: 50 * time.Millisecond,
		Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}}
	run(t, o, "slow", extension.Func(func(ctx context.Context, s string) (string, error) {
		<-ctx.Done() // the timeout fired; the handler still returns success
		return "late:" + s, nil
	}), trig(name), out("$return", outName))
	q.Send([]byte("x"))
	waitFor(t, "dead-lettered after the timeout", func() bool { return len(q.Dead()) == 1 })
	if got := outQ.Peek(); len(got) != 0 {
		t.Errorf("a timed-out (failed) invocation flushed its output: %q", got)
	}
}
