package blob

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue"
)

// hostState is what the blob connector keeps per host: the internal-queue dispatchers, the
// container scanners and the fast-path subscribers. The host owns it (driver.Shared) and closes
// it when it stops; the triggers release what they acquired when their Run returns, so Close
// finds nothing running unless a trigger was never released.
type hostState struct {
	hub         *queue.Hub // wakes this host's internal-queue listeners on hand-over
	dispatchers refcounted[dispatchKey, *dispatcher]
	scanners    refcounted[scanKey, *scanner]

	mu   sync.Mutex
	subs map[subscriber]struct{} // fast path: scanners told about blobs this host writes
}

type hostStateKey struct{}

// stateFor returns host's blob state.
func stateFor(ctx context.Context, host *driver.Services) (*hostState, error) {
	return driver.Shared(ctx, host, hostStateKey{}, func(ctx context.Context) (*hostState, error) {
		hub, err := queue.HubFor(ctx, host)
		if err != nil {
			return nil, err
		}
		return &hostState{hub: hub, subs: map[subscriber]struct{}{}}, nil
	})
}

// Close stops every dispatcher and scanner still running.
func (h *hostState) Close() error {
	return errors.Join(h.scanners.closeAll(), h.dispatchers.closeAll())
}

// refcounted holds values shared by the triggers of a host: the first acquire of a key opens the
// value, the last release closes it.
type refcounted[K comparable, V io.Closer] struct {
	mu sync.Mutex
	m  map[K]*refEntry[V]
}

type refEntry[V any] struct {
	v V
	n int
}

// acquire returns the value for k, calling open (under the set's lock) when there is none;
// existed reports whether it was already open. release drops the reference and closes the value
// with its last user.
func (r *refcounted[K, V]) acquire(k K, open func() V) (v V, existed bool, release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[K]*refEntry[V]{}
	}
	e := r.m[k]
	existed = e != nil
	if e == nil {
		e = &refEntry[V]{v: open()}
		r.m[k] = e
	}
	e.n++
	var once sync.Once
	return e.v, existed, func() {
		once.Do(func() {
			r.mu.Lock()
			e.n--
			last := e.n == 0 && r.m[k] == e
			if last {
				delete(r.m, k)
			}
			r.mu.Unlock()
			if last {
				_ = e.v.Close()
			}
		})
	}
}

// get returns the open value for k.
func (r *refcounted[K, V]) get(k K) (v V, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.m[k]; e != nil {
		return e.v, true
	}
	return v, false
}

// each calls f for every open value.
func (r *refcounted[K, V]) each(f func(K, V)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.m {
		f(k, e.v)
	}
}

// closeAll closes and forgets every open value.
func (r *refcounted[K, V]) closeAll() error {
	r.mu.Lock()
	m := r.m
	r.m = nil
	r.mu.Unlock()
	var errs []error
	for _, e := range m {
		errs = append(errs, e.v.Close())
	}
	return errors.Join(errs...)
}
