package eventhubs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
)

func collect(rec *recorder) extension.Handler {
	return extension.Action(func(ctx context.Context, body string) error {
		rec.add(body)
		return nil
	})
}

// A restarted host resumes from the checkpoints: nothing processed before is seen again.
func TestRestartResumesFromCheckpoints(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 2)
	rec1 := &recorder{}
	h1 := startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("Resume", collect(rec1), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	send(t, hub, "0", "a0", "a1", "a2")
	send(t, hub, "1", "b0")
	waitFor(t, 30*time.Second, "first run", func() bool { return rec1.len() == 4 })
	if err := h1.stop(); err != nil {
		t.Fatal(err)
	}
	send(t, hub, "0", "a3")
	send(t, hub, "1", "b1", "b2")
	rec2 := &recorder{}
	startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("Resume", collect(rec2), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	waitFor(t, 30*time.Second, "second run", func() bool { return rec2.len() >= 3 })
	// Absence check, in a bounded window: no event beyond these three arrives within 300 ms.
	time.Sleep(300 * time.Millisecond)
	got := rec2.all()
	sort.Strings(got)
	if fmt.Sprint(got) != "[a3 b1 b2]" {
		t.Errorf("after restart: %v, want only [a3 b1 b2]", got)
	}
}

// Two hosts share 4 partitions; once balanced, every event is processed exactly once.
func TestTwoHostsShareFourPartitionsExactlyOnce(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 4)
	var mu sync.Mutex
	count := map[string]int{}
	perHost := map[string]int{}
	handler := func(host string) extension.Handler {
		return extension.Action(func(ctx context.Context, body string) error {
			mu.Lock()
			count[body]++
			perHost[host]++
			mu.Unlock()
			return nil
		})
	}
	for _, id := range []string{"hosta", "hostb"} {
		startHost(t, hostOpts{hostID: id}, func(h *extension.Host) error {
			return h.Func("Shared", handler(id), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
		})
	}
	waitFor(t, 30*time.Second, "partitions balanced 2/2", func() bool {
		o := owners(t, hub)
		n := map[string]int{}
		for _, id := range o {
			n[id]++
		}
		return len(o) == 4 && len(n) == 2
	})
	// Absence check, in a bounded window: the split must stay for 2 s (a few balancing rounds).
	time.Sleep(2 * time.Second)
	var all []string
	for p := range 4 {
		var bodies []string
		for i := range 10 {
			bodies = append(bodies, fmt.Sprintf("p%d-%d", p, i))
		}
		send(t, hub, fmt.Sprint(p), bodies...)
		all = append(all, bodies...)
	}
	waitFor(t, 30*time.Second, "40 events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(count) == 40
	})
	// Absence check, in a bounded window: no duplicate arrives within 500 ms.
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, b := range all {
		if count[b] != 1 {
			t.Errorf("%s processed %d times", b, count[b])
		}
	}
	if perHost["hosta"] == 0 || perHost["hostb"] == 0 {
		t.Errorf("work per host %v: both must take part", perHost)
	}
}

// A host moved from Azure Functions' v4 extension continues from its legacy checkpoint.
func TestLegacyV4CheckpointIsRead(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	send(t, hub, "0", "e0", "e1", "e2", "e3", "e4")
	c, err := azeventhubs.NewConsumerClientFromConnectionString(peer.ConnectionString, hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	pc, err := c.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := pc.ReceiveEvents(tctx(t), 5, nil)
	pc.Close(context.Background())
	if err != nil || len(evs) != 5 {
		t.Fatalf("reading the events: %d, %v", len(evs), err)
	}
	body, _ := json.Marshal(map[string]any{"PartitionId": "0", "Owner": "681d365b-de1b-4288-9733-76294e17daf0", "Token": "2d0c4276-827d-4ca4-a345-729caeca3b82",
		"Epoch": 386, "Offset": evs[2].Offset, "SequenceNumber": evs[2].SequenceNumber})
	cc := checkpointContainer(t)
	cc.Create(tctx(t), nil)
	if _, err := cc.NewBlockBlobClient(fmt.Sprintf("%s/%s/$Default/0", fqns(), hub)).UploadBuffer(tctx(t), body, nil); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("Legacy", collect(rec), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	waitFor(t, 30*time.Second, "events after the legacy checkpoint", func() bool { return rec.len() >= 2 })
	// Absence check, in a bounded window: no event before the checkpoint arrives within 300 ms.
	time.Sleep(300 * time.Millisecond)
	if got := fmt.Sprint(rec.all()); got != "[e3 e4]" {
		t.Errorf("processed %s, want [e3 e4] (after the legacy checkpoint at e2)", got)
	}
	// The current checkpoint is written in the new layout and wins from now on.
	waitFor(t, 10*time.Second, "current checkpoint", func() bool { return checkpointSeq(t, hub, "$Default", "0") == 4 })
}

// initialOffsetOptions apply when a partition has no checkpoint.
func TestInitialOffsetOptions(t *testing.T) {
	t.Parallel()
	t.Run("fromEnd", func(t *testing.T) {
		t.Parallel()
		hub := newHub(t, 1)
		send(t, hub, "0", "old")
		rec := &recorder{}
		startHost(t, hostOpts{ext: map[string]any{"initialOffsetOptions": map[string]any{"type": "fromEnd"}}}, func(h *extension.Host) error {
			return h.Func("End", collect(rec), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
		})
		waitFor(t, 30*time.Second, "partition owned", func() bool { return len(owners(t, hub)) == 1 })
		// The partition's receiver opens at the end some time after the claim: send a new event
		// every second until one is processed (instead of sleeping and hoping it is open).
		sent := 0
		waitFor(t, 30*time.Second, "a new event", func() bool {
			if rec.len() > 0 {
				return true
			}
			send(t, hub, "0", fmt.Sprint("new", sent))
			sent++
			for deadline := time.Now().Add(time.Second); rec.len() == 0 && time.Now().Before(deadline); {
				time.Sleep(25 * time.Millisecond)
			}
			return rec.len() > 0
		})
		// Absence check, in a bounded window: "old" does not arrive within 200 ms.
		time.Sleep(200 * time.Millisecond)
		for _, b := range rec.all() {
			if !strings.HasPrefix(b, "new") {
				t.Errorf("fromEnd processed %q, sent before the start", b)
			}
		}
	})
	t.Run("fromEnqueuedTime", func(t *testing.T) {
		t.Parallel()
		hub := newHub(t, 1)
		send(t, hub, "0", "before")
		// Not synchronisation: the enqueued times of "before" and "after" must be 100 ms either
		// side of the start time (the peer stamps them with its clock).
		time.Sleep(100 * time.Millisecond)
		at := time.Now().UTC()
		time.Sleep(100 * time.Millisecond)
		send(t, hub, "0", "after")
		rec := &recorder{}
		startHost(t, hostOpts{ext: map[string]any{"initialOffsetOptions": map[string]any{"type": "fromEnqueuedTime", "enqueuedTimeUtc": at.Format(time.RFC3339Nano)}}},
			func(h *extension.Host) error {
				return h.Func("Time", collect(rec), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
			})
		waitFor(t, 30*time.Second, "event after the time", func() bool { return rec.len() >= 1 })
		// Absence check, in a bounded window: "before" does not arrive within 200 ms.
		time.Sleep(200 * time.Millisecond)
		if got := fmt.Sprint(rec.all()); got != "[after]" {
			t.Errorf("fromEnqueuedTime processed %s", got)
		}
	})
}

// An invocation cancelled at shutdown (past the drain deadline) is not checkpointed: the next
// host processes the event again.
func TestCancelledAtShutdownNotCheckpointed(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	started := make(chan struct{}, 1)
	h1 := startHost(t, hostOpts{shutdown: 300 * time.Millisecond}, func(h *extension.Host) error {
		return h.Func("Slow", extension.Action(func(ctx context.Context, body string) error {
			if body == "slow" {
				started <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	send(t, hub, "0", "fast", "slow")
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("slow event not started")
	}
	h1.stop()
	if cp := checkpointSeq(t, hub, "$Default", "0"); cp != 0 {
		t.Errorf("checkpoint at %d after the cancelled invocation of event 1, want 0 (the fast event)", cp)
	}
	rec := &recorder{}
	startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("Slow", collect(rec), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	waitFor(t, 30*time.Second, "slow event redelivered", func() bool { return rec.len() >= 1 })
	if got := fmt.Sprint(rec.all()); got != "[slow]" {
		t.Errorf("second host processed %s, want [slow]", got)
	}
}

// Scale: unprocessed events across partitions (partition properties minus checkpoints) and the
// target per instance (targetUnprocessedEventThreshold, else maxEventBatchSize).
func TestScaleBacklog(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 2)
	block := make(chan struct{})
	th := startHost(t, hostOpts{ext: map[string]any{"targetUnprocessedEventThreshold": 4}}, func(h *extension.Host) error {
		return h.Func("Scale", extension.Action(func(ctx context.Context, body string) error {
			if strings.HasPrefix(body, "wait") {
				<-block
			}
			return nil
		}), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	defer close(block)
	send(t, hub, "0", "x0", "x1")
	waitFor(t, 30*time.Second, "checkpoint on partition 0", func() bool { return checkpointSeq(t, hub, "$Default", "0") == 1 })
	send(t, hub, "0", "wait", "x3", "x4")
	send(t, hub, "1", "wait", "y1", "y2", "y3", "y4", "y5", "y6")
	var rep *extension.ScaleReport
	waitFor(t, 10*time.Second, "scale figures", func() bool {
		rep = th.h.Scale(tctx(t))
		return len(rep.Functions) == 1 && rep.Functions[0].Error == ""
	})
	f := rep.Functions[0]
	// partition 0: 3 after the checkpoint; partition 1: 7 without one.
	if f.Backlog != 10 || f.TargetPerInstance != 4 || f.TargetInstances != 3 {
		t.Errorf("scale %+v, want backlog 10, target 4, instances 3", f)
	}
}

// Ownership lost while a batch runs (another host claimed the partition and, as the SDK's
// Processor does right after its claim, opened its receiver with a higher owner level, which
// detaches this host's link): the batch is not checkpointed.
func TestOwnershipLostMidBatchNotCheckpointed(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	th := startHost(t, hostOpts{ext: map[string]any{"partitionOwnershipExpirationInterval": "00:01:00"}}, func(h *extension.Host) error {
		return h.Func("Stolen", extension.Action(func(ctx context.Context, body string) error {
			if body == "slow" {
				started <- struct{}{}
				<-release
			}
			return nil
		}), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	send(t, hub, "0", "slow")
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("not started")
	}
	// Another host claims the partition (what the SDK's load balancer writes).
	name := strings.ToLower(fmt.Sprintf("%s/%s/$default/ownership/0", fqns(), hub))
	if _, err := checkpointContainer(t).NewBlobClient(name).SetMetadata(tctx(t), map[string]*string{"ownerid": to.Ptr("another-host")}, nil); err != nil {
		t.Fatal(err)
	}
	thief, err := azeventhubs.NewConsumerClientFromConnectionString(peer.ConnectionString, hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close(context.Background())
	tpc, err := thief.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{OwnerLevel: to.Ptr(int64(1)), StartPosition: azeventhubs.StartPosition{Latest: to.Ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	defer tpc.Close(context.Background())
	rctx, cancel := context.WithTimeout(tctx(t), 200*time.Millisecond)
	_, _ = tpc.ReceiveEvents(rctx, 1, nil) // attaches the link (the steal)
	cancel()
	close(release)
	waitFor(t, 10*time.Second, "ownership-loss log", func() bool {
		return strings.Contains(th.logs.String(), "partition ownership lost; not checkpointing")
	})
	if cp := checkpointSeq(t, hub, "$Default", "0"); cp != -1 {
		t.Errorf("checkpoint written at %d after the ownership was lost", cp)
	}
}

// A checkpoint Functions wrote with an empty offset (positioned by sequence number) resumes after
// its sequence number.
func TestFunctionsCheckpointWithoutOffset(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	send(t, hub, "0", "e0", "e1", "e2", "e3")
	cc := checkpointContainer(t)
	cc.Create(tctx(t), nil)
	name := strings.ToLower(fmt.Sprintf("%s/%s/$default/checkpoint/0", fqns(), hub))
	md := map[string]*string{"offset": to.Ptr(""), "sequencenumber": to.Ptr("1"), "clientidentifier": to.Ptr("functions-host")}
	if _, err := cc.NewBlockBlobClient(name).UploadBuffer(tctx(t), nil, &blockblob.UploadBufferOptions{Metadata: md}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("NoOffset", collect(rec), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	waitFor(t, 30*time.Second, "events after sequence number 1", func() bool { return rec.len() >= 2 })
	// Absence check, in a bounded window: no earlier event arrives within 300 ms.
	time.Sleep(300 * time.Millisecond)
	if got := fmt.Sprint(rec.all()); got != "[e2 e3]" {
		t.Errorf("processed %s, want [e2 e3]", got)
	}
}
