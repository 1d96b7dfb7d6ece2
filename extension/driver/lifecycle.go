package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Lifecycle. The runtime owns every value a factory returns and every value opened through
// Shared: it closes each one that implements io.Closer once the host has drained (or at once,
// after Host.Verify), triggers first, then inputs and outputs, then shared values in reverse order
// of opening; errors are logged. Nothing a connector opens for a host may live in a package
// variable: per-host state is a Shared value.

// Shared returns the host's single value for key, calling open the first time it is asked for
// (concurrent callers wait for that call). Connectors use it for what a host should hold once: an
// SDK client per endpoint and credential, a scanner per container, an AMQP connection per
// namespace. A failed open is not cached. Use a connector-private key type so that keys of
// different connectors never collide.
func Shared[T any](ctx context.Context, s *Services, key any, open func(context.Context) (T, error)) (T, error) {
	v, err := s.shared(ctx, key, func(ctx context.Context) (any, error) { return open(ctx) })
	if err != nil {
		var zero T
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("driver: Shared key %v holds a %T, not a %T", key, v, zero)
	}
	return t, nil
}

type sharedSet struct {
	mu      sync.Mutex
	entries map[any]*sharedEntry
	order   []*sharedEntry
}

type sharedEntry struct {
	ready chan struct{}
	v     any
	err   error
}

func (s *Services) shared(ctx context.Context, key any, open func(context.Context) (any, error)) (any, error) {
	set := &s.res
	set.mu.Lock()
	if set.entries == nil {
		set.entries = map[any]*sharedEntry{}
	}
	if e, ok := set.entries[key]; ok {
		set.mu.Unlock()
		select {
		case <-e.ready:
			return e.v, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &sharedEntry{ready: make(chan struct{})}
	set.entries[key] = e
	set.mu.Unlock()

	func() {
		defer func() {
			if r := recover(); r != nil {
				e.err = fmt.Errorf("driver: opening shared value %v panicked: %v", key, r)
			}
		}()
		e.v, e.err = open(ctx)
	}()
	set.mu.Lock()
	if e.err != nil {
		delete(set.entries, key)
	} else {
		set.order = append(set.order, e)
	}
	set.mu.Unlock()
	close(e.ready)
	return e.v, e.err
}

// SharedCount is the number of shared values the host holds (for leak tests).
func (s *Services) SharedCount() int {
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	return len(s.res.order)
}

// Close closes every shared value that implements io.Closer, newest first, and forgets them all,
// so that a later Shared opens anew. The runtime calls it when the host stops; connectors don't.
func (s *Services) Close() error {
	s.res.mu.Lock()
	order := s.res.order
	s.res.order, s.res.entries = nil, nil
	s.res.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		if err := closeValue(order[i].v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeValue closes v if it is an io.Closer, turning a panic into an error.
func closeValue(v any) (err error) {
	c, ok := v.(io.Closer)
	if !ok {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Close of %T panicked: %v", v, r)
		}
	}()
	return c.Close()
}

// Scaler is implemented by triggers that can report their backlog, for target-based scaling
// (reference §5.6). The host serves the figures of every Scaler on its HTTP handler in a shape
// KEDA's metrics-api scaler reads.
type Scaler interface {
	Scale(ctx context.Context) (ScaleMetrics, error)
}

// ScaleMetrics is one trigger's backlog.
type ScaleMetrics struct {
	// Backlog is the number of items waiting: queue length, blobs not yet processed, events not
	// yet checkpointed.
	Backlog int64
	// TargetPerInstance is how many waiting items one instance is sized for (Functions' target
	// executions per instance: the queue's batchSize, Service Bus maxConcurrentCalls, …). The
	// desired instance count is ceil(Backlog / TargetPerInstance). 0 means 1.
	TargetPerInstance int64
}
