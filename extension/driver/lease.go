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
