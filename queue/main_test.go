package queue

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/testlog"
	"github.com/azbind/azbind/queue/queuetest"
)

var (
	env     *queuetest.Env
	azurite *emulator.Azurite // the test account's emulator (for SAS tests)
)

func TestMain(m *testing.M) {
	if os.Getenv(killHelperEnv) != "" {
		os.Exit(runKillHelper())
	}
	if os.Getenv(recoveryHelperEnv) != "" {
		os.Exit(runRecoveryHelper())
	}
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azurite:", err)
		os.Exit(1)
	}
	azurite = az
	env, err = queuetest.New(az.ConnectionString)
	if err != nil {
		az.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	az.Stop()
	os.Exit(code)
}

// execFunc is a test Executor.
type execFunc func(ctx context.Context, ev *driver.Event) driver.Result

func (f execFunc) Execute(ctx context.Context, ev *driver.Event) driver.Result {
	return f(ctx, ev)
}

var (
	ok   = driver.Result{Status: driver.Succeeded}
	fail = driver.Result{Status: driver.Failed, Err: fmt.Errorf("handler failed")}
)

// runBG runs fn(ctx) in the background; the returned stop cancels it and waits for it to return
// (failing the test if it takes longer than 30 s).
func runBG(t *testing.T, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30 s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// logBuffer is a concurrency-safe slog destination.
type logBuffer = testlog.Buffer

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
