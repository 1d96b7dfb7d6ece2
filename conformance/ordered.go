package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
)

// OrderedPerKey: the items of one key are handled one at a time, in the order sent, each exactly
// once; keys are interleaved on the wire.
func testOrderedPerKey(t *testing.T, e *env) {
	src, ok := e.newSource().(KeyedSource)
	if !ok {
		t.Fatalf("harness %T declares OrderedPerKey but its sources are not KeyedSources", e.h)
	}
	const keys, perKey = 4, 8
	type item struct {
		Test string `json:"test"`
		Key  string `json:"key"`
		Seq  int    `json:"seq"`
	}
	var mu sync.Mutex
	running := map[string]int{} // invocations in progress, by key
	seen := map[string][]int{}  // sequence numbers handled, by key, in order
	var violations []string
	e.start("ordered", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		var it item
		if err := json.Unmarshal(b, &it); err != nil || it.Test != t.Name() {
			return fmt.Errorf("unexpected payload %q (%v)", b, err)
		}
		mu.Lock()
		running[it.Key]++
		if running[it.Key] > 1 {
			violations = append(violations, fmt.Sprintf("%s#%d ran while another item of its key was running", it.Key, it.Seq))
		}
		seen[it.Key] = append(seen[it.Key], it.Seq)
		mu.Unlock()
		// Hold the item a little: a second item of the key started meanwhile is caught above.
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		running[it.Key]--
		mu.Unlock()
		return nil
	}), e.hostOptions(), src.Trigger("item"))
	for i := range perKey {
		for k := range keys {
			key := fmt.Sprintf("key-%d", k)
			b, _ := json.Marshal(item{Test: t.Name(), Key: key, Seq: i})
			if err := src.SendKeyed(e.ctx, key, b); err != nil {
				t.Fatalf("SendKeyed: %v", err)
			}
		}
	}
	e.eventually("every item handled and acknowledged", func() (bool, error) {
		p, err := src.Pending(e.ctx)
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range seen {
			n += len(s)
		}
		return p == 0 && n >= keys*perKey, err
	})
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("items of one key ran concurrently: %s", strings.Join(violations, "; "))
	}
	want := make([]int, perKey)
	for i := range want {
		want[i] = i
	}
	for k := range keys {
		key := fmt.Sprintf("key-%d", k)
		if got := seen[key]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s handled in the order %v, want %v", key, got, want)
		}
	}
}
