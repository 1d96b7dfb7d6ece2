package amqppeer_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/azbind/azbind/internal/amqppeer"
)

func ehProducer(t *testing.T, hub string) *azeventhubs.ProducerClient {
	t.Helper()
	p, err := azeventhubs.NewProducerClientFromConnectionString(peer.ConnectionString, hub, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(ctx(t)) })
	return p
}

func ehConsumer(t *testing.T, hub, group string) *azeventhubs.ConsumerClient {
	t.Helper()
	c, err := azeventhubs.NewConsumerClientFromConnectionString(peer.ConnectionString, hub, group, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx(t)) })
	return c
}

// sendEvents sends one batch with the given options.
func sendEvents(t *testing.T, p *azeventhubs.ProducerClient, opts *azeventhubs.EventDataBatchOptions, bodies ...string) {
	t.Helper()
	b, err := p.NewEventDataBatch(ctx(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range bodies {
		if err := b.AddEventData(&azeventhubs.EventData{Body: []byte(body), Properties: map[string]any{"body": body}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SendEventDataBatch(ctx(t), b, nil); err != nil {
		t.Fatal(err)
	}
}

func partitionClient(t *testing.T, c *azeventhubs.ConsumerClient, pid string, opts *azeventhubs.PartitionClientOptions) *azeventhubs.PartitionClient {
	t.Helper()
	pc, err := c.NewPartitionClient(pid, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close(ctx(t)) })
	return pc
}

// receiveEvents receives exactly n events (within 10 s).
func receiveEvents(t *testing.T, pc *azeventhubs.PartitionClient, n int) []*azeventhubs.ReceivedEventData {
	t.Helper()
	var out []*azeventhubs.ReceivedEventData
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d events", len(out), n)
		}
		short, cancel := contextWithTimeout(t, time.Second)
		evs, err := pc.ReceiveEvents(short, n-len(out), nil)
		cancel()
		if err != nil && short.Err() == nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
	return out
}

// receiveNone checks that nothing arrives within d.
func receiveNone(t *testing.T, pc *azeventhubs.PartitionClient, d time.Duration) {
	t.Helper()
	short, cancel := contextWithTimeout(t, d)
	defer cancel()
	evs, _ := pc.ReceiveEvents(short, 10, nil)
	if len(evs) > 0 {
		t.Fatalf("received %d unexpected events: %v", len(evs), eventBodies(evs))
	}
}

func eventBodies(evs []*azeventhubs.ReceivedEventData) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Body))
	}
	return out
}

func TestEHProperties(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 3}}})
	p := ehProducer(t, hub)
	props, err := p.GetEventHubProperties(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if props.Name != hub || fmt.Sprint(props.PartitionIDs) != "[0 1 2]" || props.CreatedOn.IsZero() {
		t.Fatalf("hub properties %+v", props)
	}
	pp, err := p.GetPartitionProperties(ctx(t), "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !pp.IsEmpty || pp.PartitionID != "1" || pp.EventHubName != hub {
		t.Fatalf("empty partition properties %+v", pp)
	}
	before := time.Now().Add(-time.Second)
	sendEvents(t, p, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr("1")}, "a", "b", "c")
	pp, err = p.GetPartitionProperties(ctx(t), "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pp.IsEmpty || pp.BeginningSequenceNumber != 0 || pp.LastEnqueuedSequenceNumber != 2 || pp.LastEnqueuedOffset == "" ||
		pp.LastEnqueuedOn.Before(before) {
		t.Fatalf("partition properties after 3 events %+v", pp)
	}
	if _, err := p.GetPartitionProperties(ctx(t), "9", nil); err == nil {
		t.Error("properties of a partition that does not exist")
	}
}

func TestEHSendAndReceivePartition(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 2}}})
	p := ehProducer(t, hub)
	before := time.Now().Add(-time.Second)
	sendEvents(t, p, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr("0")}, "e0", "e1")
	// A single event, not batched by the caller.
	sendEvents(t, p, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr("0")}, "e2")
	c := ehConsumer(t, hub, azeventhubs.DefaultConsumerGroup)
	pc := partitionClient(t, c, "0", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
	evs := receiveEvents(t, pc, 3)
	var lastOffset string
	for i, e := range evs {
		if string(e.Body) != fmt.Sprintf("e%d", i) || e.Properties["body"] != string(e.Body) {
			t.Errorf("event %d: body %q properties %v", i, e.Body, e.Properties)
		}
		if e.SequenceNumber != int64(i) {
			t.Errorf("event %d: sequence number %d", i, e.SequenceNumber)
		}
		if e.Offset == "" || e.Offset == lastOffset {
			t.Errorf("event %d: offset %q after %q", i, e.Offset, lastOffset)
		}
		lastOffset = e.Offset
		if e.EnqueuedTime == nil || e.EnqueuedTime.Before(before) {
			t.Errorf("event %d: enqueued time %v", i, e.EnqueuedTime)
		}
		if e.PartitionKey != nil {
			t.Errorf("event %d: partition key %q", i, *e.PartitionKey)
		}
	}
	// Nothing was sent to partition 1.
	pc1 := partitionClient(t, c, "1", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
	receiveNone(t, pc1, 300*time.Millisecond)
	// Events sent while receiving arrive too.
	sendEvents(t, p, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr("0")}, "e3")
	if got := eventBodies(receiveEvents(t, pc, 1)); got[0] != "e3" {
		t.Fatalf("live event %v", got)
	}
}

func TestEHPartitionKeyAndSpread(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 4}}})
	p := ehProducer(t, hub)
	for i := range 3 {
		sendEvents(t, p, &azeventhubs.EventDataBatchOptions{PartitionKey: to.Ptr("device-7")}, fmt.Sprintf("k%d", i))
	}
	for i := range 8 {
		sendEvents(t, p, nil, fmt.Sprintf("n%d", i))
	}
	c := ehConsumer(t, hub, azeventhubs.DefaultConsumerGroup)
	keyed, nonEmpty, total := 0, 0, 0
	for _, pid := range []string{"0", "1", "2", "3"} {
		pp, err := c.GetPartitionProperties(ctx(t), pid, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pp.IsEmpty {
			continue
		}
		nonEmpty++
		n := int(pp.LastEnqueuedSequenceNumber + 1)
		total += n
		pc := partitionClient(t, c, pid, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
		var ks []string
		for _, e := range receiveEvents(t, pc, n) {
			if e.PartitionKey != nil {
				if *e.PartitionKey != "device-7" {
					t.Errorf("partition key %q", *e.PartitionKey)
				}
				ks = append(ks, string(e.Body))
			}
		}
		if len(ks) > 0 {
			keyed++
			if fmt.Sprint(ks) != "[k0 k1 k2]" {
				t.Errorf("keyed events on partition %s: %v, want all of [k0 k1 k2] in order", pid, ks)
			}
		}
	}
	if keyed != 1 {
		t.Errorf("events with one partition key landed on %d partitions, want 1", keyed)
	}
	if nonEmpty < 3 {
		t.Errorf("11 events without a partition spread over only %d of 4 partitions", nonEmpty)
	}
	if total != 11 {
		t.Errorf("%d events stored, want 11", total)
	}
}

func TestEHStartPositions(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 1}}})
	p := ehProducer(t, hub)
	sendEvents(t, p, nil, "e0", "e1")
	// Not synchronisation: e2 and e3 get enqueued times after e0 and e1's.
	time.Sleep(20 * time.Millisecond)
	sendEvents(t, p, nil, "e2", "e3")
	c := ehConsumer(t, hub, azeventhubs.DefaultConsumerGroup)
	all := receiveEvents(t, partitionClient(t, c, "0", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}}), 4)
	if fmt.Sprint(eventBodies(all)) != "[e0 e1 e2 e3]" {
		t.Fatalf("earliest: %v", eventBodies(all))
	}
	cases := []struct {
		name string
		pos  azeventhubs.StartPosition
		want string
	}{
		{"offset exclusive", azeventhubs.StartPosition{Offset: &all[1].Offset}, "[e2 e3]"},
		{"offset inclusive", azeventhubs.StartPosition{Offset: &all[1].Offset, Inclusive: true}, "[e1 e2 e3]"},
		{"sequence exclusive", azeventhubs.StartPosition{SequenceNumber: to.Ptr(int64(2))}, "[e3]"},
		{"sequence inclusive", azeventhubs.StartPosition{SequenceNumber: to.Ptr(int64(2)), Inclusive: true}, "[e2 e3]"},
		{"enqueued time inclusive", azeventhubs.StartPosition{EnqueuedTime: all[2].EnqueuedTime, Inclusive: true}, "[e2 e3]"},
		{"enqueued time exclusive", azeventhubs.StartPosition{EnqueuedTime: all[1].EnqueuedTime}, "[e2 e3]"},
	}
	if !all[2].EnqueuedTime.After(*all[1].EnqueuedTime) {
		t.Fatalf("enqueued times %v, %v not increasing", all[1].EnqueuedTime, all[2].EnqueuedTime)
	}
	for _, tc := range cases {
		pc := partitionClient(t, c, "0", &azeventhubs.PartitionClientOptions{StartPosition: tc.pos})
		n := len(tc.want) / 3
		got := eventBodies(receiveEvents(t, pc, n))
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, got, tc.want)
		}
		receiveNone(t, pc, 100*time.Millisecond)
	}
	// Latest (and the default): only events sent after the receiver opened.
	for _, pos := range []azeventhubs.StartPosition{{Latest: to.Ptr(true)}, {}} {
		pc := partitionClient(t, c, "0", &azeventhubs.PartitionClientOptions{StartPosition: pos})
		receiveNone(t, pc, 300*time.Millisecond) // opens the link
		sendEvents(t, p, nil, "new")
		got := eventBodies(receiveEvents(t, pc, 1))
		if got[0] != "new" {
			t.Errorf("latest %+v: got %v", pos, got)
		}
	}
}

func TestEHConsumerGroups(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 1, ConsumerGroups: []string{"cg1"}}}})
	sendEvents(t, ehProducer(t, hub), nil, "x")
	for _, group := range []string{azeventhubs.DefaultConsumerGroup, "cg1"} {
		pc := partitionClient(t, ehConsumer(t, hub, group), "0", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
		if got := eventBodies(receiveEvents(t, pc, 1)); got[0] != "x" {
			t.Errorf("group %s got %v", group, got)
		}
	}
	pc, err := ehConsumer(t, hub, "nope").NewPartitionClient("0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx(t))
	short, cancel := contextWithTimeout(t, 3*time.Second)
	defer cancel()
	if _, err := pc.ReceiveEvents(short, 1, nil); err == nil || short.Err() != nil {
		t.Errorf("receiving from an unknown consumer group: %v (want a not-found error before the timeout)", err)
	}
}

func TestEHOwnerLevel(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 1}}})
	p := ehProducer(t, hub)
	sendEvents(t, p, nil, "a")
	c := ehConsumer(t, hub, azeventhubs.DefaultConsumerGroup)
	earliest := azeventhubs.StartPosition{Earliest: to.Ptr(true)}
	low := partitionClient(t, c, "0", &azeventhubs.PartitionClientOptions{StartPosition: earliest, OwnerLevel: to.Ptr(int64(1))})
	receiveEvents(t, low, 1)

	high := partitionClient(t, c, "0", &azeventhubs.PartitionClientOptions{StartPosition: earliest, OwnerLevel: to.Ptr(int64(2))})
	receiveEvents(t, high, 1)

	short, cancel := contextWithTimeout(t, 5*time.Second)
	defer cancel()
	_, err := low.ReceiveEvents(short, 1, nil)
	var ehErr *azeventhubs.Error
	if !errors.As(err, &ehErr) || ehErr.Code != azeventhubs.ErrorCodeOwnershipLost {
		t.Fatalf("lower owner level after a higher one opened: %v, want ErrorCodeOwnershipLost", err)
	}

	// A lower owner level than the current owner's is refused.
	lower := partitionClient(t, c, "0", &azeventhubs.PartitionClientOptions{StartPosition: earliest, OwnerLevel: to.Ptr(int64(1))})
	short2, cancel2 := contextWithTimeout(t, 5*time.Second)
	defer cancel2()
	if _, err := lower.ReceiveEvents(short2, 1, nil); !errors.As(err, &ehErr) || ehErr.Code != azeventhubs.ErrorCodeOwnershipLost {
		t.Fatalf("opening with a lower owner level: %v, want ErrorCodeOwnershipLost", err)
	}
	// The owner keeps receiving.
	sendEvents(t, p, nil, "b")
	if got := eventBodies(receiveEvents(t, high, 1)); got[0] != "b" {
		t.Fatalf("owner got %v", got)
	}
}

func TestEHWrongKey(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 1}}})
	p, err := azeventhubs.NewProducerClientFromConnectionString(peer.WrongKeyConnectionString(), hub, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx(t))
	_, err = p.GetEventHubProperties(ctx(t), nil)
	// azeventhubs reports the CBS answer as it comes (the service answers 401 too).
	var ehErr *azeventhubs.Error
	if err == nil || !(errors.As(err, &ehErr) && ehErr.Code == azeventhubs.ErrorCodeUnauthorizedAccess) && !strings.Contains(err.Error(), "status code 401") {
		t.Fatalf("wrong key: %v, want an unauthorized (401) error", err)
	}
}
