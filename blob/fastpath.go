package blob

import (
	"sync"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// The fast path: a blob written by a `blob` output binding of this host is pushed to the
// scanners of the same host that watch its container, so it triggers without waiting for the
// next scan (the real host does this with an in-process notification as well). Scans remain
// the safety net when a notification is dropped.

type written struct {
	account      string // accountKey of the blob service
	container    string
	name         string
	etag         string // quoted
	lastModified time.Time
}

type subscriber interface {
	notify(w written)
}

var fast struct {
	mu   sync.Mutex
	subs map[*driver.Services]map[subscriber]struct{}
}

func subscribe(host *driver.Services, s subscriber) (cancel func()) {
	if host == nil {
		return func() {}
	}
	fast.mu.Lock()
	defer fast.mu.Unlock()
	if fast.subs == nil {
		fast.subs = map[*driver.Services]map[subscriber]struct{}{}
	}
	m := fast.subs[host]
	if m == nil {
		m = map[subscriber]struct{}{}
		fast.subs[host] = m
	}
	m[s] = struct{}{}
	return func() {
		fast.mu.Lock()
		defer fast.mu.Unlock()
		delete(fast.subs[host], s)
		if len(fast.subs[host]) == 0 {
			delete(fast.subs, host)
		}
	}
}

func notifyWritten(host *driver.Services, w written) {
	if host == nil {
		return
	}
	fast.mu.Lock()
	subs := make([]subscriber, 0, len(fast.subs[host]))
	for s := range fast.subs[host] {
		subs = append(subs, s)
	}
	fast.mu.Unlock()
	for _, s := range subs {
		s.notify(w)
	}
}
