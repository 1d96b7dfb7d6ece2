package extension_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/clocktest"
	"github.com/azbind/azbind/internal/storagetest"
)

func TestMemoryStorageLeaser(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := extension.NewMemoryStorage()
	m.Clock = clk
	storagetest.RunLeaser(t, m, 15*time.Second, func() { clk.Advance(5 * time.Second) })
}

// HoldLease renews at half the period on the clock, so the lease outlives many periods; when a
// renewal is refused, Lost is closed.
func TestHoldLease(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := extension.NewMemoryStorage()
	m.Clock = clk
	ctx := context.Background()
	h, err := driver.HoldLease(ctx, m, clk, "locks/h/x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 { // three minutes: renewed at 30 s, 60 s, ...
		clocktest.WaitFor(t, "the renewer to sleep", func() bool { return clk.Sleepers() == 1 })
		if at, _ := clk.NextDeadline(); at.Sub(clk.Now()) != 30*time.Second {
			t.Fatalf("renewal in %v, want 30s", at.Sub(clk.Now()))
		}
		clk.Advance(30 * time.Second)
		if _, err := m.AcquireLease(ctx, "locks/h/x", time.Minute); !errors.Is(err, driver.ErrConflict) {
			t.Fatalf("the held lease was taken: %v", err)
		}
	}
	if !h.Held() {
		t.Fatal("not held")
	}
	// The renewer wakes only after the lease expired (a stalled host): the memory lease refuses
	// the renewal, and the holder learns it through Lost.
	clocktest.WaitFor(t, "the renewer to sleep", func() bool { return clk.Sleepers() == 1 })
	clk.Advance(2 * time.Minute)
	clocktest.WaitFor(t, "Lost", func() bool { return !h.Held() })
	other, err := m.AcquireLease(ctx, "locks/h/x", time.Minute)
	if err != nil {
		t.Fatalf("after the lease was lost: %v", err)
	}
	_ = other.Release(ctx)
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AcquireLease(ctx, "locks/h/x", time.Minute); err != nil {
		t.Fatalf("after Release: %v", err)
	}
}

// Services.HoldLease refuses memory storage the host fell back to (state lost at restart).
func TestServicesHoldLeaseNeedsDurableStorage(t *testing.T) {
	s := &driver.Services{Storage: extension.NewMemoryStorage(), StorageVolatile: true, Clock: driver.SystemClock}
	if _, err := s.HoldLease(context.Background(), "the timer trigger", "locks/h/x", time.Minute); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
}

// flaky wraps a Leaser whose renewals fail with a transient error while fail is set.
type flaky struct {
	driver.Leaser
	fail *atomic.Bool
}

func (f flaky) AcquireLease(ctx context.Context, key string, period time.Duration) (driver.Lease, error) {
	l, err := f.Leaser.AcquireLease(ctx, key, period)
	if err != nil {
		return nil, err
	}
	return flakyLease{l, f.fail}, nil
}

type flakyLease struct {
	driver.Lease
	fail *atomic.Bool
}

func (f flakyLease) Renew(ctx context.Context) error {
	if f.fail.Load() {
		return errors.New("connection reset")
	}
	return f.Lease.Renew(ctx)
}

// A renewal that fails transiently is retried every period/10; the lease survives a short
// outage, and is given up as lost when renewals keep failing for a whole period.
func TestHoldLeaseTransientRenewErrors(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := extension.NewMemoryStorage()
	m.Clock = clk
	var fail atomic.Bool
	h, err := driver.HoldLease(context.Background(), flaky{m, &fail}, clk, "locks/h/y", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	asleep := func() {
		t.Helper()
		clocktest.WaitFor(t, "the renewer to sleep", func() bool { return clk.Sleepers() == 1 || !h.Held() })
	}
	// step checks the renewer's next wake-up, moves the clock there and waits until the renewer
	// has acted and sleeps again.
	step := func(want time.Duration) {
		t.Helper()
		at, _ := clk.NextDeadline()
		if got := at.Sub(clk.Now()); got != want {
			t.Fatalf("next renewal in %v, want %v", got, want)
		}
		clk.Set(at)
		asleep()
	}
	asleep()
	fail.Store(true)
	step(30 * time.Second) // fails at 30 s
	step(6 * time.Second)  // retried at 36 s: still failing
	fail.Store(false)
	step(6 * time.Second) // 42 s: renewed, back to half the period
	step(30 * time.Second)
	if !h.Held() {
		t.Fatal("lost after a short outage")
	}
	fail.Store(true)
	for i := 0; h.Held() && i < 20; i++ {
		if at, ok := clk.NextDeadline(); ok {
			clk.Set(at)
		}
		asleep()
	}
	clocktest.WaitFor(t, "Lost after a period of failed renewals", func() bool { return !h.Held() })
	_ = h.Release(context.Background())
}
