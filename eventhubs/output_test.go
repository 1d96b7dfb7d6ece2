package eventhubs_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
)

// readAll reads every event of a hub (all partitions) that arrives within d.
func readAll(t *testing.T, hub string, want int, d time.Duration) []*azeventhubs.ReceivedEventData {
	t.Helper()
	c, err := azeventhubs.NewConsumerClientFromConnectionString(peer.ConnectionString, hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	props, err := c.GetEventHubProperties(tctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*azeventhubs.ReceivedEventData
	deadline := time.Now().Add(d)
	pcs := map[string]*azeventhubs.PartitionClient{}
	for _, pid := range props.PartitionIDs {
		pc, err := c.NewPartitionClient(pid, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close(context.Background())
		pcs[pid] = pc
	}
	for len(out) < want && time.Now().Before(deadline) {
		for _, pid := range props.PartitionIDs {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			evs, _ := pcs[pid].ReceiveEvents(ctx, 100, nil)
			cancel()
			out = append(out, evs...)
		}
	}
	return out
}

// The output sends one or many events after the invocation succeeded, with the partition key
// from a binding expression; nothing is sent when the invocation fails.
func TestOutputManyWithPartitionKeyAfterSuccess(t *testing.T) {
	t.Parallel()
	in := newHub(t, 1)
	out := newHub(t, 4)
	type order struct {
		ID       string `json:"id"`
		Customer string `json:"customer"`
		Fail     bool   `json:"fail"`
	}
	type line struct {
		Order string `json:"order"`
		N     int    `json:"n"`
	}
	th := startHost(t, hostOpts{retry: &extension.RetryPolicy{Strategy: extension.FixedDelay, MaxRetryCount: 0}}, func(h *extension.Host) error {
		return h.Func("Fanout", extension.Reflect(func(ctx context.Context, o order, lines *extension.Collector[line], raw *extension.Collector[*azeventhubs.EventData]) error {
			for i := range 3 {
				if err := lines.Add(ctx, line{o.ID, i}); err != nil {
					return err
				}
			}
			if err := raw.Add(ctx, &azeventhubs.EventData{Body: []byte("raw-" + o.ID), Properties: map[string]any{"kind": "raw"}}); err != nil {
				return err
			}
			if o.Fail {
				return errors.New("failed after writing")
			}
			return nil
		}), eventhubs.Trigger("o", in, map[string]any{"connection": "EventHubConn"}),
			eventhubs.Output("lines", out, map[string]any{"connection": "EventHubConn", "partitionKey": "{customer}"}),
			eventhubs.Output("raw", out, map[string]any{"connection": "EventHubConn"}))
	})
	send(t, in, "0", `{"id":"o1","customer":"c7"}`, `{"id":"o2","customer":"c7","fail":true}`)
	readAll(t, out, 4, 20*time.Second)
	// o2's invocation has run to its end once its batch is dead-lettered; then everything the
	// hub holds is read (up to one event too many, which would be a leak of o2's outputs).
	waitFor(t, 20*time.Second, "o2 dead-lettered", func() bool {
		keys, err := eventhubs.ListDeadLetters(context.Background(), th.h.Services().Storage, "", "Fanout")
		return err == nil && len(keys) == 1
	})
	// Presence (all four, polled for up to 20 s), then absence in a bounded window: no fifth
	// event within 3 s more.
	evs := readAll(t, out, 4, 20*time.Second)
	for deadline := time.Now().Add(3 * time.Second); len(evs) == 4 && time.Now().Before(deadline); {
		if more := readAll(t, out, 5, time.Second); len(more) > len(evs) {
			evs = more
		}
	}
	var keyed []string
	var rawSeen bool
	for _, e := range evs {
		if strings.HasPrefix(string(e.Body), "raw-") {
			rawSeen = string(e.Body) == "raw-o1" && e.Properties["kind"] == "raw"
			continue
		}
		if e.PartitionKey == nil || *e.PartitionKey != "c7" {
			t.Errorf("event %s without partition key c7", e.Body)
		}
		keyed = append(keyed, string(e.Body))
	}
	if fmt.Sprint(keyed) != `[{"order":"o1","n":0} {"order":"o1","n":1} {"order":"o1","n":2}]` {
		t.Errorf("lines %v (the failed invocation's must not be sent)", keyed)
	}
	if !rawSeen || len(evs) != 4 {
		t.Errorf("%d events, raw seen %v", len(evs), rawSeen)
	}
}

// EntityPath in the connection string overrides eventHubName; $return sends the return value.
func TestOutputEntityPathOverridesName(t *testing.T) {
	t.Parallel()
	in := newHub(t, 1)
	real := newHub(t, 1)
	startHost(t, hostOpts{settings: map[string]string{"OutConn": peer.EventHubConnectionString(real)}}, func(h *extension.Host) error {
		return h.Func("Forward", extension.Func(func(ctx context.Context, body string) (string, error) {
			return "fwd-" + body, nil
		}), eventhubs.Trigger("body", in, map[string]any{"connection": "EventHubConn"}),
			eventhubs.Output("$return", "not-this-hub", map[string]any{"connection": "OutConn"}))
	})
	send(t, in, "0", "x", "y")
	evs := readAll(t, real, 2, 20*time.Second)
	got := bodiesOf(evs)
	sort.Strings(got)
	if fmt.Sprint(got) != "[fwd-x fwd-y]" {
		t.Errorf("got %v", got)
	}
}

// Many events beyond one batch's size limit are split into several batches, in order.
func TestOutputSplitsAtSizeLimit(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	p := producerFor(t, hub)
	big := strings.Repeat("x", 200<<10) // 200 KiB each; the peer's limit is 1 MiB
	var evs []*azeventhubs.EventData
	for i := range 12 {
		evs = append(evs, &azeventhubs.EventData{Body: []byte(fmt.Sprintf("%02d%s", i, big))})
	}
	if err := eventhubs.Send(tctx(t), p, nil, evs); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, hub, 12, 20*time.Second)
	if len(got) != 12 {
		t.Fatalf("%d events arrived, want 12", len(got))
	}
	for i, e := range got {
		if string(e.Body[:2]) != fmt.Sprintf("%02d", i) {
			t.Errorf("event %d is %s", i, e.Body[:2])
		}
	}
	tooBig := []*azeventhubs.EventData{{Body: make([]byte, 2<<20)}}
	if err := eventhubs.Send(tctx(t), p, nil, tooBig); err == nil {
		t.Error("an event larger than a batch was accepted")
	}
}
