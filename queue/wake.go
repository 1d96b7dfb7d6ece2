package queue

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// Shared queue watcher (§3.1 step 6): a message written to a queue by this process wakes that
// queue's listeners out of their back-off.
var (
	watchMu  sync.Mutex
	watchers = map[string]map[chan struct{}]struct{}{}
)

func watchKey(u string) string {
	if p, err := url.Parse(u); err == nil {
		p.RawQuery, p.Fragment = "", ""
		u = p.String()
	}
	return strings.ToLower(strings.TrimRight(u, "/"))
}

func watch(u string) (<-chan struct{}, func()) {
	k := watchKey(u)
	ch := make(chan struct{}, 1)
	watchMu.Lock()
	if watchers[k] == nil {
		watchers[k] = map[chan struct{}]struct{}{}
	}
	watchers[k][ch] = struct{}{}
	watchMu.Unlock()
	return ch, func() {
		watchMu.Lock()
		delete(watchers[k], ch)
		if len(watchers[k]) == 0 {
			delete(watchers, k)
		}
		watchMu.Unlock()
	}
}

func notify(u string) {
	k := watchKey(u)
	watchMu.Lock()
	defer watchMu.Unlock()
	for ch := range watchers[k] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func createIfMissing(ctx context.Context, q *azqueue.QueueClient) error {
	_, err := q.Create(ctx, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return fmt.Errorf("create queue %s: %w", queueNameFromURL(q.URL()), err)
	}
	return nil
}
