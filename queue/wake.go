package queue

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/azbind/azbind/extension/driver"
)

// Hub wakes a host's listeners of a queue when the same host writes to that queue (§3.1 step 6),
// so that a message sent by an output binding, a blob hand-over or a release reaches its
// listener at once instead of at its next poll. A host has one Hub (HubFor); the nil *Hub wakes
// nobody.
type Hub struct {
	mu sync.Mutex
	m  map[string]map[*Listener]struct{} // watchKey(queue URL) → listeners
}

type hubKey struct{}

// HubFor returns host's Hub, a value the host owns (driver.Shared).
func HubFor(ctx context.Context, host *driver.Services) (*Hub, error) {
	return driver.Shared(ctx, host, hubKey{}, func(context.Context) (*Hub, error) {
		return &Hub{m: map[string]map[*Listener]struct{}{}}, nil
	})
}

func watchKey(u string) string {
	if p, err := url.Parse(u); err == nil {
		p.RawQuery, p.Fragment = "", ""
		u = p.String()
	}
	return strings.ToLower(strings.TrimRight(u, "/"))
}

// add registers l for wake-ups of its queue; the returned func removes it.
func (h *Hub) add(l *Listener) func() {
	if h == nil {
		return func() {}
	}
	k := watchKey(l.q.URL())
	h.mu.Lock()
	if h.m[k] == nil {
		h.m[k] = map[*Listener]struct{}{}
	}
	h.m[k][l] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.m[k], l)
		if len(h.m[k]) == 0 {
			delete(h.m, k)
		}
		h.mu.Unlock()
	}
}

// Notify wakes the host's listeners of the queue at queueURL (query and case ignored).
func (h *Hub) Notify(queueURL string) {
	if h == nil {
		return
	}
	k := watchKey(queueURL)
	h.mu.Lock()
	ls := make([]*Listener, 0, len(h.m[k]))
	for l := range h.m[k] {
		ls = append(ls, l)
	}
	h.mu.Unlock()
	for _, l := range ls {
		l.Wake()
	}
}

// Enqueue sends one message whose text is already encoded (see Encoding) to q, creating the
// queue when it does not exist, and wakes hub's listeners of q. It is the hand-over API of
// connectors that feed a queue listener (the blob trigger's internal queue).
func Enqueue(ctx context.Context, hub *Hub, q *azqueue.QueueClient, text string) error {
	_, err := q.EnqueueMessage(ctx, text, nil)
	if queueerror.HasCode(err, queueerror.QueueNotFound) {
		if err = createIfMissing(ctx, q); err == nil {
			_, err = q.EnqueueMessage(ctx, text, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("send message to queue %s: %w", queueNameFromURL(q.URL()), err)
	}
	hub.Notify(q.URL())
	return nil
}

func createIfMissing(ctx context.Context, q *azqueue.QueueClient) error {
	_, err := q.Create(ctx, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return fmt.Errorf("create queue %s: %w", queueNameFromURL(q.URL()), err)
	}
	return nil
}
