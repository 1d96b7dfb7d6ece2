package eventhubs_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
)

// Single dispatch: one invocation per event, in order within a partition, partitions in parallel;
// metadata as §3.6; checkpoints in the Functions/KEDA layout.
func TestTriggerSingleInOrderWithMetadata(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 2)
	var mu sync.Mutex
	perPartition := map[string][]string{}
	var meta []string
	startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("Single", extension.Action(func(ctx context.Context, body string) error {
			fc := extension.FromContext(ctx)
			pc, _ := fc.BindingData("PartitionContext")
			seq, _ := fc.BindingData("SequenceNumber")
			props, _ := fc.BindingData("Properties")
			sys, _ := fc.BindingData("SystemProperties")
			enq, _ := fc.BindingData("EnqueuedTimeUtc")
			off, _ := fc.BindingData("Offset")
			p := pc.(*eventhubs.PartitionContext)
			mu.Lock()
			perPartition[p.PartitionID] = append(perPartition[p.PartitionID], body)
			if body == "a1" {
				sm := sys.(map[string]any)
				meta = append(meta, fmt.Sprintf("hub=%s group=%s seq=%v prop=%v sysseq=%v offset=%v enq=%v", p.EventHubName, p.ConsumerGroup, seq,
					props.(map[string]any)["k"], sm["SequenceNumber"], off != "", !enq.(time.Time).IsZero()))
			}
			mu.Unlock()
			return nil
		}), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	sendEvents(t, hub, "0", map[string]any{"k": "v"}, "a0", "a1", "a2", "a3", "a4")
	send(t, hub, "1", "b0", "b1", "b2")
	waitFor(t, 30*time.Second, "8 events processed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(perPartition["0"]) == 5 && len(perPartition["1"]) == 3
	})
	mu.Lock()
	if got := fmt.Sprint(perPartition["0"], perPartition["1"]); got != "[a0 a1 a2 a3 a4] [b0 b1 b2]" {
		t.Errorf("order per partition: %s", got)
	}
	want := fmt.Sprintf("hub=%s group=$Default seq=1 prop=v sysseq=1 offset=true enq=true", hub)
	if len(meta) != 1 || meta[0] != want {
		t.Errorf("metadata %q, want %q", meta, want)
	}
	mu.Unlock()
	// Checkpoint blobs: <fqns>/<hub>/<group>/checkpoint/<partition>, lower-cased.
	waitFor(t, 10*time.Second, "checkpoints at the last events", func() bool {
		return checkpointSeq(t, hub, "$Default", "0") == 4 && checkpointSeq(t, hub, "$Default", "1") == 2
	})
	pager := checkpointContainer(t).NewListBlobsFlatPager(nil)
	var names []string
	for pager.More() {
		page, err := pager.NextPage(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			if strings.Contains(*b.Name, "/"+hub+"/") {
				names = append(names, *b.Name)
			}
		}
	}
	sort.Strings(names)
	prefix := fqns() + "/" + hub + "/$default/"
	want2 := []string{prefix + "checkpoint/0", prefix + "checkpoint/1", prefix + "ownership/0", prefix + "ownership/1"}
	if fmt.Sprint(names) != fmt.Sprint(want2) {
		t.Errorf("blobs %v, want %v", names, want2)
	}
}

// Handler parameter types: []byte, a JSON struct, *azeventhubs.ReceivedEventData.
func TestTriggerParameterTypes(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1, "g1", "g2", "g3")
	type order struct {
		ID  string `json:"id"`
		Qty int    `json:"qty"`
	}
	rec := &recorder{}
	startHost(t, hostOpts{}, func(h *extension.Host) error {
		if err := h.Func("Bytes", extension.Action(func(ctx context.Context, b []byte) error {
			rec.add("bytes:" + string(b))
			return nil
		}), eventhubs.Trigger("b", hub, map[string]any{"connection": "EventHubConn", "consumerGroup": "g1"})); err != nil {
			return err
		}
		if err := h.Func("Struct", extension.Action(func(ctx context.Context, o order) error {
			rec.add(fmt.Sprintf("struct:%s/%d", o.ID, o.Qty))
			return nil
		}), eventhubs.Trigger("o", hub, map[string]any{"connection": "EventHubConn", "consumerGroup": "g2"})); err != nil {
			return err
		}
		return h.Func("Event", extension.Action(func(ctx context.Context, e *azeventhubs.ReceivedEventData) error {
			rec.add(fmt.Sprintf("event:%s/seq%d", e.Body, e.SequenceNumber))
			return nil
		}), eventhubs.Trigger("e", hub, map[string]any{"connection": "EventHubConn", "consumerGroup": "g3"}))
	})
	send(t, hub, "0", `{"id":"o1","qty":2}`)
	waitFor(t, 30*time.Second, "three functions invoked", func() bool { return rec.len() == 3 })
	got := rec.all()
	sort.Strings(got)
	want := `[bytes:{"id":"o1","qty":2} event:{"id":"o1","qty":2}/seq0 struct:o1/2]`
	if fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
}
