package conformance_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension/driver"
)

// memLeakTrigger is memconn's memTrigger with a deliberate leak: each Run starts a goroutine
// that nothing stops. It exists to prove that the kit's Lifecycle test fails such a connector.
func init() {
	driver.Register(driver.Extension{Name: "memoryLeaky", Bindings: []driver.BindingType{{Type: "memLeakTrigger",
		NewTrigger: func(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
			bt, _, _ := driver.Lookup("memTrigger")
			inner, err := bt.NewTrigger(ctx, bc)
			return leakyTrigger{inner}, err
		}}}})
}

type leakyTrigger struct{ driver.Trigger }

var never = make(chan struct{})

// leakForever is the leaked goroutine: it waits on a channel no one closes.
func leakForever() { <-never }

func (l leakyTrigger) Run(ctx context.Context, exec driver.Executor) error {
	go leakForever()
	return l.Trigger.Run(ctx, exec)
}

// leakyHarness is Harness on memLeakTrigger.
type leakyHarness struct{ Harness }

func (h leakyHarness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	return leakySource{h.Harness.NewSource(ctx, t).(source)}
}

type leakySource struct{ source }

func (s leakySource) Trigger(name string) *driver.BindingSpec {
	spec := s.source.Trigger(name)
	spec.Type = "memLeakTrigger"
	return spec
}

const leakDemoEnv = "AZBIND_CONFORMANCE_LEAK_DEMO"

// The kit's Lifecycle test fails a connector whose trigger leaks a goroutine, and names the
// goroutine: the suite's Lifecycle test is run on the leaky connector in a child process (the
// test binary again), whose failure and output this test checks.
func TestLifecycleFailsALeakingConnector(t *testing.T) {
	if os.Getenv(leakDemoEnv) == "1" {
		conformance.Run(t, func(t *testing.T) conformance.Harness { return leakyHarness{} })
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLifecycleFailsALeakingConnector$/^Lifecycle$", "-test.count=1")
	cmd.Env = append(os.Environ(), leakDemoEnv+"=1")
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); !ok {
		t.Fatalf("the Lifecycle test on a leaking connector did not fail (err %v):\n%s", err, out)
	}
	for _, want := range []string{"--- FAIL: TestLifecycleFailsALeakingConnector/Lifecycle", "goroutines left behind", "conformance_test.leakForever"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the child's output lacks %q:\n%s", want, out)
		}
	}
	// The same suite on the connector without the leak passes (the check is not always failing).
	cmd = exec.Command(os.Args[0], "-test.run=^TestInMemory$/^Lifecycle$", "-test.count=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Lifecycle test on memconn failed: %v\n%s", err, out)
	}
}
