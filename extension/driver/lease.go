package driver

import (
	"context"
	"errors"
	"time"
)

// Leases: the one coordination primitive. A lease is an exclusive, time-bound claim on a key of
// durable host storage (a blob lease on AzureWebJobsStorage's azure-webjobs-hosts container, as
// Functions' `locks/<hostId>/…` singleton locks; in memory for tests). Blob's scan lock and the
// timer's listener lock use it; a connector never writes a lock scheme of its own.

// ErrLeaseLost is returned by Lease.Renew when the lease expired and may be held by another.
var ErrLeaseLost = errors.New("lease lost")

// Leaser is the optional capability of a HostStorage that can lease keys.
type Leaser interface {
	// AcquireLease takes the lease on key for period, creating the key if needed. It fails with
	// ErrConflict (wrapped) when another holder has it.
	AcquireLease(ctx context.Context, key string, period time.Duration) (Lease, error)
}

// Lease is a held lease. Renew before the period runs out (at half the period is the rule).
type Lease interface {
	Key() string
	// Renew extends the lease by its period; ErrLeaseLost when it is no longer held.
	Renew(ctx context.Context) error
	// Release gives the lease up at once (idempotent).
	Release(ctx context.Context) error
}

// AcquireLease takes a lease on key in the host's durable storage (see DurableStorage): use says
// what needs it, for the error when the host has only memory storage it fell back to.
func (s *Services) AcquireLease(ctx context.Context, use, key string, period time.Duration) (Lease, error) {
	st, err := s.DurableStorage(use)
	if err != nil {
		return nil, err
	}
	l, ok := st.(Leaser)
	if !ok {
		return nil, &ConfigError{Where: "host storage", Problem: use + " needs leases, and the host storage cannot lease keys", Fix: "use the default host storage (AzureWebJobsStorage) or one that implements driver.Leaser"}
	}
	return l.AcquireLease(ctx, key, period)
}

// Timers is the optional capability of a Clock that wakes sleepers on its own time: a test's
// fake clock implements it so that time-driven code (timer schedules, lease renewal) runs
// without real waiting. Without it, Sleep waits real time.
type Timers interface {
	// After returns a channel that receives the clock's time once d has passed on the clock.
	After(d time.Duration) <-chan time.Time
}

// Sleep waits d on clock c, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if tc, ok := c.(Timers); ok {
		select {
		case <-tc.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HeldLease is a lease that HoldLease keeps renewed at half its period in the background.
type HeldLease struct {
	lease Lease
	lost  chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
}

// HoldLease takes the lease on key of l for period (ErrConflict, wrapped, when another holder
// has it) and renews it every period/2 on clock until ctx ends, Release is called, or it is lost:
// a renewal answered ErrLeaseLost, or renewals kept failing (retried every period/10) until a
// whole period passed since the last success. Lost is closed then; the holder must stop the work
// the lease guards. This is the one renew loop: connectors never write their own.
func HoldLease(ctx context.Context, l Leaser, clock Clock, key string, period time.Duration) (*HeldLease, error) {
	if clock == nil {
		clock = SystemClock
	}
	ls, err := l.AcquireLease(ctx, key, period)
	if err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(ctx)
	h := &HeldLease{lease: ls, lost: make(chan struct{}), stop: stop, done: make(chan struct{})}
	go h.renew(rctx, clock, period)
	return h, nil
}

// HoldLease is HoldLease on the host's durable storage (see AcquireLease), renewed on the host's
// clock.
func (s *Services) HoldLease(ctx context.Context, use, key string, period time.Duration) (*HeldLease, error) {
	st, err := s.DurableStorage(use)
	if err != nil {
		return nil, err
	}
	l, ok := st.(Leaser)
	if !ok {
		return nil, &ConfigError{Where: "host storage", Problem: use + " needs leases, and the host storage cannot lease keys", Fix: "use the default host storage (AzureWebJobsStorage) or one that implements driver.Leaser"}
	}
	return HoldLease(ctx, l, s.Clock, key, period)
}

func (h *HeldLease) renew(ctx context.Context, clock Clock, period time.Duration) {
	defer close(h.done)
	defer close(h.lost)
	last := clock.Now()
	wait := period / 2
	for {
		if Sleep(ctx, clock, wait) != nil {
			return
		}
		err := h.lease.Renew(ctx)
		switch {
		case err == nil:
			last, wait = clock.Now(), period/2
		case errors.Is(err, ErrLeaseLost) || ctx.Err() != nil:
			return
		default:
			if clock.Now().Sub(last) >= period {
				return
			}
			wait = period / 10
		}
	}
}

// Key is the leased key.
func (h *HeldLease) Key() string { return h.lease.Key() }

// Lost is closed when the lease is lost or no longer renewed (ctx ended, Release).
func (h *HeldLease) Lost() <-chan struct{} { return h.lost }

// Held reports whether the lease is still held and renewed.
func (h *HeldLease) Held() bool {
	select {
	case <-h.lost:
		return false
	default:
		return true
	}
}

// Release stops renewing and gives the lease up at once, so that another host can take it
// without waiting for it to expire (idempotent).
func (h *HeldLease) Release(ctx context.Context) error {
	h.stop()
	<-h.done
	return h.lease.Release(ctx)
}
