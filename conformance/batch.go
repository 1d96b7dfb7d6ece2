package conformance

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/azbind/azbind/extension"
)

// Batch: with `cardinality: many` one invocation receives several items, every item is delivered
// exactly once, byte for byte, and no batch exceeds MaxBatchSize. With Redelivery, the items of
// a failed batch all come back.
func testBatch(t *testing.T, e *env) {
	src := e.newSource()
	const n = 12
	var rec recorder
	var mu sync.Mutex
	var sizes []int
	var failed [][]byte // the items of the batch that failed
	spec := manyTrigger(src, "items")
	handler := extension.Action(func(ctx context.Context, items [][]byte) error {
		items = e.sentAll(items)
		mu.Lock()
		sizes = append(sizes, len(items))
		fail := e.caps.Redelivery && failed == nil
		if fail {
			failed = items
		}
		mu.Unlock()
		for _, it := range items {
			rec.add(it, nil)
		}
		if fail {
			return errInjected
		}
		return nil
	})
	var all [][]byte
	for i := range n {
		all = append(all, payload(t, i))
	}
	if bs, ok := src.(BatchSender); ok {
		e.start("batch", handler, e.hostOptions(), spec)
		if err := bs.SendBatch(e.ctx, all); err != nil {
			t.Fatalf("SendBatch: %v", err)
		}
	} else {
		// Sent before the host starts, the items are all there to be batched.
		for _, p := range all {
			if err := src.Send(e.ctx, p); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		e.start("batch", handler, e.hostOptions(), spec)
	}
	wantFailed := func() int { return len(failed) } // (mu held)
	e.eventually("every item delivered and acknowledged", func() (bool, error) {
		p, err := src.Pending(e.ctx)
		mu.Lock()
		defer mu.Unlock()
		return p == 0 && rec.len() >= n+wantFailed(), err
	})
	mu.Lock()
	defer mu.Unlock()
	biggest := 0
	for _, s := range sizes {
		biggest = max(biggest, s)
		if e.caps.MaxBatchSize > 0 && s > e.caps.MaxBatchSize {
			t.Errorf("a batch of %d items exceeds MaxBatchSize %d", s, e.caps.MaxBatchSize)
		}
	}
	if biggest < 2 {
		t.Errorf("batch sizes %v: no invocation received more than one item", sizes)
	}
	var wrong []string
	for i, p := range all {
		want := 1
		for _, f := range failed {
			if string(f) == string(p) {
				want = 2
			}
		}
		if c := rec.count(p); c != want {
			wrong = append(wrong, fmt.Sprintf("item %d ×%d (want %d)", i, c, want))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("items of batches %v: %s", sizes, strings.Join(wrong, ", "))
	}
}
