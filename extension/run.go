package extension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// track registers an attempt; false when the host is past its drain deadline.
func (h *Host) track(inv *invocation) bool {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	select {
	case <-h.hardStop:
		return false
	default:
	}
	// An intrusive list, not a map: linking costs no hashing and no allocation per attempt.
	inv.next = h.inflight
	if h.inflight != nil {
		h.inflight.prev = inv
	}
	h.inflight = inv
	h.inflightN++
	return true
}

func (h *Host) untrack(inv *invocation) {
	h.inflightMu.Lock()
	if inv.prev != nil {
		inv.prev.next = inv.next
	} else if h.inflight == inv {
		h.inflight = inv.next
	}
	if inv.next != nil {
		inv.next.prev = inv.prev
	}
	inv.prev, inv.next = nil, nil
	h.inflightN--
	h.inflightMu.Unlock()
}

// InFlight returns the number of running invocation attempts.
func (h *Host) InFlight() int {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	return h.inflightN
}

// watchdog cancels attempts past their function timeout.
func (h *Host) watchdog(stop <-chan struct{}) {
	tick := time.Second
	for _, f := range h.funcs {
		if f.timeout > 0 {
			tick = min(tick, max(f.timeout/10, 5*time.Millisecond))
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := h.clock.Now()
		h.inflightMu.Lock()
		for inv := h.inflight; inv != nil; inv = inv.next {
			if !inv.deadline.IsZero() && now.After(inv.deadline) {
				inv.cancel(errTimeoutCancel)
			}
		}
		h.inflightMu.Unlock()
	}
}

// Run builds every function, starts all triggers and blocks until ctx is cancelled (or a trigger
// fails to run). It then stops fetching, lets in-flight invocations finish within
// ShutdownTimeout, cancels the rest (their items are not acknowledged), waits for the triggers to
// settle, and returns. Declaration problems are returned before anything starts, all at once.
func (h *Host) Run(ctx context.Context) error {
	if err := h.build(ctx); err != nil {
		h.closeAll(h.funcs)
		return err
	}
	defer h.closeAll(h.funcs) // after the drain: triggers, bindings, then shared values
	if err := h.mountAdmin(); err != nil {
		return err
	}
	if keys := h.hostKeys(); keys != nil {
		// Create the master key and the default host key on first start, as Functions does.
		kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, err := keys.Host(kctx); err != nil {
			log := h.logger
			log.Error("host keys could not be read or created; requests that need a key are refused until they can be", slog.String("error", connection.ScrubText(err.Error())))
		}
		cancel()
	}
	var srv *server
	if addr, lim, err := h.httpConfig(); err != nil {
		return err
	} else {
		h.guard.setLimits(lim)
		if addr != "" {
			if srv, err = h.startServer(addr); err != nil {
				return err
			}
		}
	}
	collisionCtx, stopCollision := context.WithCancel(context.WithoutCancel(ctx))
	collisionDone := make(chan struct{})
	go func() { defer close(collisionDone); h.checkHostIDCollision(collisionCtx) }()
	defer func() { stopCollision(); <-collisionDone }()
	log := h.logger
	log.Info("host started", slog.String("host_id", h.services.HostID), slog.Int("functions", len(h.funcs)))
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	defer stopListening()
	wdStop := make(chan struct{})
	go h.watchdog(wdStop)
	defer close(wdStop)

	type exit struct {
		f   *function
		err error
	}
	exits := make(chan exit, len(h.funcs)+1)
	for _, f := range h.funcs {
		go func() {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("trigger panicked: %v", r)
					}
				}()
				err = f.trigger.Run(listenCtx, f)
			}()
			exits <- exit{f, err}
		}()
	}
	var errs []error
	remaining := len(h.funcs)
	record := func(e exit) {
		remaining--
		if e.err != nil {
			if errors.Is(e.err, driver.ErrPermanent) {
				log.Error("function stopped: its trigger hit an error that retrying cannot clear; the other functions keep running", slog.String("function", e.f.name), slog.String("trigger", e.f.trigType), slog.String("error", e.err.Error()))
			} else {
				log.Error("trigger stopped with an error", slog.String("function", e.f.name), slog.String("trigger", e.f.trigType), slog.String("error", e.err.Error()))
			}
			errs = append(errs, fmt.Errorf("function %s: trigger %s: %w", e.f.name, e.f.trigType, e.err))
		}
	}
wait:
	for remaining > 0 {
		select {
		case <-ctx.Done():
			break wait
		case e := <-exits:
			record(e)
			// A permanent error stops only its function; any other stops the host.
			if e.err != nil && !errors.Is(e.err, driver.ErrPermanent) {
				break wait
			}
		}
	}
	// Drain: stop fetching, let in-flight invocations finish; retry waits end now (§5.1).
	stopListening()
	close(h.draining)
	manualDone := h.manualStop()
	remaining++ // the manual invocations (admin/functions) drain like a trigger
	go func() { <-manualDone; exits <- exit{} }()
	timeout := h.opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log.Info("host stopping", slog.Int("in_flight", h.InFlight()), slog.Duration("drain_timeout", timeout))
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
drain:
	for remaining > 0 {
		select {
		case e := <-exits:
			record(e)
		case <-deadline.C:
			break drain
		}
	}
	if remaining > 0 {
		n := h.cancelAll()
		log.Warn("drain deadline passed; cancelled in-flight invocations", slog.Int("cancelled", n))
		grace := time.NewTimer(max(timeout, 10*time.Second))
		defer grace.Stop()
	settle:
		for remaining > 0 {
			select {
			case e := <-exits:
				record(e)
			case <-grace.C:
				errs = append(errs, fmt.Errorf("%d trigger(s) did not stop after their invocations were cancelled: %w", remaining, ErrShutdown))
				break settle
			}
		}
	} else {
		h.cancelAll()
	}
	if srv != nil {
		if err := srv.stop(timeout); err != nil {
			errs = append(errs, fmt.Errorf("http server: %w", err))
		}
	}
	log.Info("host stopped")
	return errors.Join(errs...)
}

// cancelAll marks the host as past its drain deadline and cancels every running attempt.
func (h *Host) cancelAll() int {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	select {
	case <-h.hardStop:
	default:
		close(h.hardStop)
	}
	for inv := h.inflight; inv != nil; inv = inv.next {
		inv.cancel(errShutdownCancel)
	}
	return h.inflightN
}

// Draining returns a channel that is closed when Run has told every trigger to stop fetching and
// begins to drain in-flight invocations (for tests, health endpoints and readiness probes).
func (h *Host) Draining() <-chan struct{} { return h.draining }

// HostID returns the host id once Run has built the host ("" before).
func (h *Host) HostID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.services == nil {
		return ""
	}
	return h.services.HostID
}

// closeAll closes, after the drain (or at once after Verify), everything the host opened for
// funcs: each trigger, input and output that implements io.Closer, in reverse order of building,
// then the connectors' shared values (driver.Shared), newest first. Errors are logged.
func (h *Host) closeAll(funcs []*function) {
	log := h.logger
	for i := len(funcs) - 1; i >= 0; i-- {
		f := funcs[i]
		closeLogged(log, f.name, f.trigType, f.trigger)
		for j := len(f.outputs) - 1; j >= 0; j-- {
			if o := f.outputs[j]; o != nil && o.out != nil {
				closeLogged(log, f.name, o.spec.Type, o.out)
			}
		}
		for j := len(f.inputs) - 1; j >= 0; j-- {
			if in := f.inputs[j]; in != nil && in.in != nil {
				closeLogged(log, f.name, in.spec.Type, in.in)
			}
		}
	}
	if h.services != nil {
		if err := h.services.Close(); err != nil {
			log.Error("closing shared connector resources", slog.String("error", err.Error()))
		}
	}
}

func closeLogged(log *slog.Logger, fn, typ string, v any) {
	c, ok := v.(io.Closer)
	if !ok {
		return
	}
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				//lint:ignore ST1005 names the method Close
				err = fmt.Errorf("Close panicked: %v", r)
			}
		}()
		return c.Close()
	}()
	if err != nil {
		log.Error("closing a binding", slog.String("function", fn), slog.String("binding", typ), slog.String("error", err.Error()))
	}
}
