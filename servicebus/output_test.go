package servicebus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

func sortedBodies(msgs []*azservicebus.ReceivedMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Body))
	}
	sort.Strings(out)
	return out
}

// The output sends a return value, a JSON struct, and a *azservicebus.Message with its
// properties; a topic output reaches every subscription; the queue name may use binding data.
func TestOutputSingleAndProperties(t *testing.T) {
	t.Parallel()
	in := newQueue(t, amqppeer.Queue{})
	out := newQueue(t, amqppeer.Queue{Name: "out-" + entityName(t)})
	topic := entityName(t)
	if err := peer.CreateEntities(testCtx(t), amqppeer.Config{Topics: []amqppeer.Topic{{Name: topic, Subscriptions: []amqppeer.Subscription{{Name: "a"}, {Name: "b"}}}}}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Msg   *azservicebus.Message `azbind:"msg"`
		Event struct {
			N int `json:"n"`
		} `azbind:"event"`
	}
	sched := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	startHost(t, hostCfg{}, "Out", extension.Func(func(ctx context.Context, s string) (result, error) {
		var r result
		r.Msg = &azservicebus.Message{Body: []byte("m:" + s), MessageID: to.Ptr("id-" + s), CorrelationID: to.Ptr("c1"),
			Subject: to.Ptr("subj"), TimeToLive: to.Ptr(time.Hour), ApplicationProperties: map[string]any{"p": "v"}, ScheduledEnqueueTime: &sched}
		r.Event.N = len(s)
		return r, nil
	}), servicebus.Trigger("s", in),
		servicebus.Output("msg", "out-{Subject}"),
		servicebus.TopicOutput("event", topic))
	sendMsgs(t, in, &azservicebus.Message{Body: []byte("hello"), Subject: to.Ptr(strings.TrimPrefix(out, "out-"))})
	got := receiveAll(t, out, 1)
	m := got[0]
	if string(m.Body) != "m:hello" || m.MessageID != "id-hello" || *m.CorrelationID != "c1" || *m.Subject != "subj" || m.ApplicationProperties["p"] != "v" {
		t.Errorf("sent %q id %q props %v", m.Body, m.MessageID, m.ApplicationProperties)
	}
	for _, sub := range []string{"a", "b"} {
		ev := receiveAll(t, topic+"/Subscriptions/"+sub, 1)[0]
		if string(ev.Body) != `{"n":5}` || ev.ContentType == nil || *ev.ContentType != "application/json" {
			t.Errorf("subscription %s got %q content type %v", sub, ev.Body, ev.ContentType)
		}
	}
}

// A collector's many items are sent as batches after the handler succeeded, none when it fails.
func TestOutputManyOnlyAfterSuccess(t *testing.T) {
	t.Parallel()
	in := newQueue(t, amqppeer.Queue{})
	out := newQueue(t, amqppeer.Queue{})
	startHost(t, hostCfg{}, "Many", extension.Reflect(func(ctx context.Context, s string, c *extension.Collector[[]byte]) error {
		n := 0
		fmt.Sscan(s, &n)
		for i := range 300 {
			if err := c.Add(ctx, fmt.Appendf(nil, "%s-%03d-%s", s, i, strings.Repeat("x", 1000))); err != nil {
				return err
			}
		}
		if n < 0 {
			return errors.New("negative: nothing must be sent")
		}
		return nil
	}), servicebus.Trigger("s", in), servicebus.Output("c", out))
	send(t, in, "-1")
	wantCounts(t, in+"/$DeadLetterQueue", amqppeer.Counts{Active: 1, Total: 1})
	if c := counts(t, out); c.Total != 0 {
		t.Fatalf("a failed invocation sent %d messages", c.Total)
	}
	send(t, in, "7")
	got := receiveAll(t, out, 300)
	bodies := sortedBodies(got)
	if !strings.HasPrefix(bodies[0], "7-000-") || !strings.HasPrefix(bodies[299], "7-299-") || !slices.IsSorted(bodies) {
		t.Errorf("bodies %q … %q", bodies[0][:8], bodies[299][:8])
	}
}
