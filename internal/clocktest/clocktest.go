// Package clocktest is a fake driver.Clock for tests: time moves only when the test advances it,
// and sleepers (driver.Sleep, via driver.Timers) wake when it passes their deadline.
package clocktest

import (
	"sort"
	"sync"
	"testing"
	"time"
)

// Fake is a manual clock. It implements driver.Clock and driver.Timers.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a Fake clock showing start.
func New(start time.Time) *Fake { return &Fake{now: start} }

// Now implements driver.Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After implements driver.Timers.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward by d, waking every sleeper whose deadline has come.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards), waking every sleeper whose deadline has come.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.now) {
		f.now = t
	}
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
		} else {
			keep = append(keep, w)
		}
	}
	f.waiters = keep
}

// Sleepers returns the number of pending sleepers.
func (f *Fake) Sleepers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// NextDeadline returns the earliest pending sleeper's deadline (false when none).
func (f *Fake) NextDeadline() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) == 0 {
		return time.Time{}, false
	}
	ws := append([]waiter(nil), f.waiters...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].at.Before(ws[j].at) })
	return ws[0].at, true
}

// WaitFor polls cond (every millisecond of real time, for at most a minute) until it holds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
