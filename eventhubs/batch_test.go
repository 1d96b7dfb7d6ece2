package eventhubs_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
)

// Batch dispatch: up to maxEventBatchSize events per invocation, in order, …Array metadata.
func TestTriggerBatchMaxSizeAndArrays(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	var mu sync.Mutex
	var batches [][]string
	var seqArrays []string
	startHost(t, hostOpts{ext: map[string]any{"maxEventBatchSize": 5}}, func(h *extension.Host) error {
		return h.Func("Batch", extension.Action(func(ctx context.Context, bodies []string) error {
			fc := extension.FromContext(ctx)
			seqs, _ := fc.BindingData("SequenceNumberArray")
			pc, _ := fc.BindingData("PartitionContext")
			mu.Lock()
			batches = append(batches, bodies)
			seqArrays = append(seqArrays, fmt.Sprintf("%v %s", seqs, pc.(*eventhubs.PartitionContext).PartitionID))
			mu.Unlock()
			return nil
		}), eventhubs.Trigger("bodies", hub, map[string]any{"connection": "EventHubConn", "cardinality": "many"}))
	})
	var want []string
	for i := range 12 {
		want = append(want, fmt.Sprintf("e%02d", i))
	}
	send(t, hub, "0", want...)
	var got []string
	waitFor(t, 30*time.Second, "12 events in batches", func() bool {
		mu.Lock()
		defer mu.Unlock()
		got = nil
		for _, b := range batches {
			got = append(got, b...)
		}
		return len(got) >= 12
	})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
	for _, b := range batches {
		if len(b) > 5 {
			t.Errorf("batch of %d > maxEventBatchSize 5", len(b))
		}
	}
	// SequenceNumberArray follows the batches; PartitionContext names partition 0.
	var seqs []string
	for i, s := range seqArrays {
		if !strings.HasSuffix(s, "] 0") {
			t.Errorf("batch %d: %s", i, s)
		}
		seqs = append(seqs, strings.Fields(strings.Trim(strings.TrimSuffix(s, " 0"), "[]"))...)
	}
	if fmt.Sprint(seqs) != "[0 1 2 3 4 5 6 7 8 9 10 11]" {
		t.Errorf("SequenceNumberArray across batches: %v", seqArrays)
	}
}

// minEventBatchSize: events wait for the minimum, or for maxWaitTime after the first.
func TestTriggerBatchMinSizeAndMaxWait(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	type batch struct {
		n  int
		at time.Time
	}
	ch := make(chan batch, 10)
	startHost(t, hostOpts{ext: map[string]any{"maxEventBatchSize": 10, "minEventBatchSize": 4, "maxWaitTime": "00:00:01.5"}}, func(h *extension.Host) error {
		return h.Func("Min", extension.Action(func(ctx context.Context, evs []*azeventhubs.ReceivedEventData) error {
			ch <- batch{len(evs), time.Now()}
			return nil
		}), eventhubs.Trigger("evs", hub, map[string]any{"connection": "EventHubConn", "cardinality": "many"}))
	})
	waitFor(t, 30*time.Second, "partition owned", func() bool { return len(owners(t, hub)) == 1 })
	sent := time.Now()
	send(t, hub, "0", "a", "b")
	select {
	case b := <-ch:
		if b.n != 2 || b.at.Sub(sent) < time.Second {
			t.Errorf("2 events below the minimum came as a batch of %d after %v, want 2 after ~1.5 s", b.n, b.at.Sub(sent))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no batch after maxWaitTime")
	}
	sent = time.Now()
	send(t, hub, "0", "c", "d", "e", "f", "g")
	select {
	case b := <-ch:
		if b.n < 4 || b.at.Sub(sent) > time.Second {
			t.Errorf("5 events came as a batch of %d after %v, want ≥4 at once", b.n, b.at.Sub(sent))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no batch")
	}
}

// batchCheckpointFrequency: the checkpoint moves every n-th batch.
func TestTriggerBatchCheckpointFrequency(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	rec := &recorder{}
	th := startHost(t, hostOpts{ext: map[string]any{"batchCheckpointFrequency": 3}}, func(h *extension.Host) error {
		return h.Func("Freq", extension.Action(func(ctx context.Context, body string) error {
			rec.add(body)
			return nil
		}), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	waitFor(t, 30*time.Second, "partition owned", func() bool { return len(owners(t, hub)) == 1 })
	for i := range 4 { // four received batches of one event
		send(t, hub, "0", fmt.Sprintf("e%d", i))
		n := i + 1
		waitFor(t, 10*time.Second, "event processed", func() bool { return rec.len() == n })
		// Absence check, in a bounded window: the batch must not move the checkpoint off the frequency within 50 ms.
		time.Sleep(50 * time.Millisecond)
	}
	if got := checkpointSeq(t, hub, "$Default", "0"); got != 2 {
		t.Errorf("checkpoint after 4 batches with frequency 3 at sequence %d, want 2", got)
	}
	// At shutdown the last settled event is checkpointed.
	if err := th.stop(); err != nil {
		t.Fatal(err)
	}
	if got := checkpointSeq(t, hub, "$Default", "0"); got != 3 {
		t.Errorf("checkpoint after shutdown at sequence %d, want 3", got)
	}
}
