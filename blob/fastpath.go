package blob

import (
	"time"
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

// subscribe adds s to the host's fast path; cancel removes it.
func (h *hostState) subscribe(s subscriber) (cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = struct{}{}
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, s)
	}
}

// notifyWritten tells the host's scanners about a blob the host just wrote.
func (h *hostState) notifyWritten(w written) {
	h.mu.Lock()
	subs := make([]subscriber, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.notify(w)
	}
}
