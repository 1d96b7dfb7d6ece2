// Package storagetest checks a driver.HostStorage implementation: the semantics connectors rely
// on for receipts, locks, checkpoints and leases (ETag conditions, not-found and conflict kinds,
// prefix listing in lexical order).
package storagetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// Run checks hs, which must be empty.
func Run(t *testing.T, hs driver.HostStorage) {
	t.Helper()
	ctx := context.Background()
	if _, err := hs.Get(ctx, "locks/h/a"); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Get missing (no container): %v, want ErrNotFound", err)
	}
	if keys, err := hs.List(ctx, "locks/"); err != nil || len(keys) != 0 {
		t.Fatalf("List (no container) = %v, %v", keys, err)
	}
	e1, err := hs.Put(ctx, "locks/h/a", driver.Record{Data: []byte("one"), Metadata: map[string]string{"FunctionInstance": "inst-1"}}, driver.Cond{IfNoneMatch: true})
	if err != nil || e1 == "" {
		t.Fatalf("Put IfNoneMatch: %q, %v", e1, err)
	}
	if _, err := hs.Put(ctx, "locks/h/a", driver.Record{Data: []byte("x")}, driver.Cond{IfNoneMatch: true}); !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("Put IfNoneMatch on existing: %v, want ErrConflict", err)
	}
	rec, err := hs.Get(ctx, "locks/h/a")
	if err != nil || string(rec.Data) != "one" || rec.ETag != e1 {
		t.Fatalf("Get = %+v, %v", rec, err)
	}
	var inst string
	for k, v := range rec.Metadata {
		if strings.EqualFold(k, "FunctionInstance") {
			inst = v
		}
	}
	if inst != "inst-1" {
		t.Fatalf("metadata = %v", rec.Metadata)
	}
	e2, err := hs.Put(ctx, "locks/h/a", driver.Record{Data: []byte("two")}, driver.Cond{IfMatch: e1})
	if err != nil || e2 == e1 {
		t.Fatalf("Put IfMatch: %q, %v", e2, err)
	}
	if _, err := hs.Put(ctx, "locks/h/a", driver.Record{Data: []byte("three")}, driver.Cond{IfMatch: e1}); !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("Put stale IfMatch: %v, want ErrConflict", err)
	}
	if _, err := hs.Put(ctx, "locks/h/none", driver.Record{}, driver.Cond{IfMatch: e1}); !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("Put IfMatch on missing: %v, want ErrConflict", err)
	}
	if _, err := hs.Put(ctx, "locks/h/b", driver.Record{Data: []byte("b")}, driver.Cond{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.Put(ctx, "other/x", driver.Record{}, driver.Cond{}); err != nil {
		t.Fatal(err)
	}
	keys, err := hs.List(ctx, "locks/")
	if err != nil || !slices.Equal(keys, []string{"locks/h/a", "locks/h/b"}) {
		t.Fatalf("List = %v, %v", keys, err)
	}
	if err := hs.Delete(ctx, "locks/h/a", driver.Cond{IfMatch: e1}); !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("Delete stale IfMatch: %v, want ErrConflict", err)
	}
	if err := hs.Delete(ctx, "locks/h/a", driver.Cond{IfMatch: e2}); err != nil {
		t.Fatal(err)
	}
	if err := hs.Delete(ctx, "locks/h/a", driver.Cond{}); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Delete missing: %v, want ErrNotFound", err)
	}
	// An unconditional put overwrites; the ETag changes with every write.
	e3, err := hs.Put(ctx, "locks/h/b", driver.Record{Data: []byte("b2")}, driver.Cond{})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := hs.Get(ctx, "locks/h/b"); err != nil || string(rec.Data) != "b2" || rec.ETag != e3 {
		t.Fatalf("Get after overwrite = %+v, %v (etag %q)", rec, err, e3)
	}
}

// RunLeaser checks a driver.Leaser: exclusive acquire (ErrConflict while held), renew, idempotent
// release, ErrLeaseLost for a holder whose lease another took, and expiry after period without
// renewal. tick lets time pass while the test polls for the expiry (advance a fake clock, or
// sleep a little on a real service); the keys used start with "locks/leasetest/".
func RunLeaser(t *testing.T, l driver.Leaser, period time.Duration, tick func()) {
	t.Helper()
	ctx := context.Background()
	a, err := l.AcquireLease(ctx, "locks/leasetest/a", period)
	if err != nil {
		t.Fatalf("AcquireLease (key missing): %v", err)
	}
	if a.Key() != "locks/leasetest/a" {
		t.Fatalf("Key() = %q", a.Key())
	}
	if hs, ok := l.(driver.HostStorage); ok {
		if _, err := hs.Get(ctx, "locks/leasetest/a"); err != nil {
			t.Fatalf("the leased key was not created: %v", err)
		}
	}
	if _, err := l.AcquireLease(ctx, "locks/leasetest/a", period); !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("AcquireLease while held: %v, want ErrConflict", err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("Release again: %v", err)
	}
	b, err := l.AcquireLease(ctx, "locks/leasetest/a", period)
	if err != nil {
		t.Fatalf("AcquireLease after release: %v", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, driver.ErrLeaseLost) {
		t.Fatalf("Renew of a released lease another holds: %v, want ErrLeaseLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("Release of a lease another holds: %v", err)
	}
	if _, err := l.AcquireLease(ctx, "locks/leasetest/a", period); !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("a stale holder's Release freed the lease: %v", err)
	}
	// Not renewed, b's lease expires; c takes it over, and b's renewal is refused.
	var c driver.Lease
	for i := 0; ; i++ {
		if c, err = l.AcquireLease(ctx, "locks/leasetest/a", period); err == nil {
			break
		}
		if !errors.Is(err, driver.ErrConflict) || i > 1000 {
			t.Fatalf("AcquireLease after expiry: %v", err)
		}
		tick()
	}
	if err := b.Renew(ctx); !errors.Is(err, driver.ErrLeaseLost) {
		t.Fatalf("Renew after another took the expired lease: %v, want ErrLeaseLost", err)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
