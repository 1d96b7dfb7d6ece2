package driver

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Outage is the one severity rule for a connector's connection failures: the first failure of an
// outage is logged at ERROR (with what failed and the error, redacted by the SDK pipeline), the
// repeats at DEBUG, and the recovery once at INFO with how long it lasted and how many attempts
// failed. A connector keeps one per listener (or per client) and calls Fail on every failed
// service call and OK on every successful one; OK outside an outage costs one atomic-free
// comparison under a mutex that is never contended in the steady state.
//
// The zero value is not usable: build it with NewOutage.
type Outage struct {
	log  *slog.Logger
	what string
	now  func() time.Time

	mu     sync.Mutex
	down   bool
	since  time.Time
	failed int
}

// NewOutage returns the tracker for what (e.g. "receiving from queue orders"), logging to log with
// clock's time.
func NewOutage(log *slog.Logger, clock Clock, what string) *Outage {
	return &Outage{log: log, what: what, now: clock.Now}
}

// Fail records a failed call: ERROR the first time in an outage, DEBUG after.
func (o *Outage) Fail(err error, attrs ...slog.Attr) {
	o.mu.Lock()
	first := !o.down
	if first {
		o.down, o.since = true, o.now()
	}
	o.failed++
	n := o.failed
	o.mu.Unlock()
	a := append([]slog.Attr{slog.String("error", err.Error())}, attrs...)
	if first {
		o.log.LogAttrs(context.Background(), slog.LevelError, o.what+" failed; retrying with back-off (logged once until it recovers)", a...)
		return
	}
	o.log.LogAttrs(context.Background(), slog.LevelDebug, o.what+" failed again", append(a, slog.Int("attempt", n))...)
}

// OK records a successful call; the first after an outage logs the recovery at INFO.
func (o *Outage) OK() {
	o.mu.Lock()
	if !o.down {
		o.mu.Unlock()
		return
	}
	since, n := o.since, o.failed
	o.down, o.failed = false, 0
	o.mu.Unlock()
	o.log.Info(o.what+" recovered", slog.Duration("outage", o.now().Sub(since)), slog.Int("failed_attempts", n))
}

// Down reports whether an outage is in progress.
func (o *Outage) Down() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.down
}
