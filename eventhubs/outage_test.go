package eventhubs_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
)

// count is how many lines of logs hold every part.
func count(logs string, parts ...string) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// A consumer group that does not exist (issue 25: the SDK's Processor logs the link's
// amqp:not-found to its own log and idles, nothing surfaced): the start fails with one ERROR
// naming the group, is retried (DEBUG while it lasts), and once the group is created the trigger
// says so at INFO and receives.
func TestMissingConsumerGroupRetriedAndLogged(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	rec := &recorder{}
	th := startHost(t, hostOpts{}, func(h *extension.Host) error {
		return h.Func("NoGroup", collect(rec), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn", "consumerGroup": "later"}))
	})
	waitFor(t, 30*time.Second, "a retried start", func() bool { return count(th.logs.String(), "failed again") >= 1 })
	if n := count(th.logs.String(), "level=ERROR", `consumer group \"later\" does not exist`); n != 1 {
		t.Errorf("%d ERROR lines naming the group, want 1:\n%s", n, th.logs.String())
	}
	if err := peer.CreateEntities(tctx(t), amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 1, ConsumerGroups: []string{"later"}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "recovery logged", func() bool { return count(th.logs.String(), "level=INFO", "recovered") == 1 })
	send(t, hub, "0", "hello")
	waitFor(t, 30*time.Second, "the event", func() bool { return rec.len() == 1 })
}

// An event hub that does not exist, a key the namespace refuses and a namespace nobody answers
// for (issue 23: a WARN, or nothing): ERROR once per outage, naming the cause, never the key.
func TestUnknownHubAndWrongKeyLoggedOnce(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	gone := fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=k;SharedAccessKey=a2V5;UseDevelopmentEmulator=true", closed)
	// No SDK retries: the unreachable namespace fails each start at once.
	th := startHost(t, hostOpts{settings: map[string]string{"BadKey": peer.WrongKeyConnectionString(), "Gone": gone},
		ext: map[string]any{"clientRetryOptions": map[string]any{"maximumRetries": 0}}}, func(h *extension.Host) error {
		if err := h.Func("Gone", extension.Action(func(context.Context, string) error { return nil }), eventhubs.Trigger("body", "h", map[string]any{"connection": "Gone"})); err != nil {
			return err
		}
		if err := h.Func("NoHub", extension.Action(func(context.Context, string) error { return nil }), eventhubs.Trigger("body", "no-such-hub", map[string]any{"connection": "EventHubConn"})); err != nil {
			return err
		}
		return h.Func("BadKey", extension.Action(func(context.Context, string) error { return nil }), eventhubs.Trigger("body", newHub(t, 1), map[string]any{"connection": "BadKey"}))
	})
	waitFor(t, 60*time.Second, "retried starts", func() bool {
		l := th.logs.String()
		return count(l, "failed again", "function=NoHub") >= 1 && count(l, "failed again", "function=BadKey") >= 1 &&
			count(l, "level=ERROR", "function=Gone") >= 1
	})
	l := th.logs.String()
	if n := count(l, "level=ERROR", "function=NoHub", `event hub \"no-such-hub\" does not exist`); n != 1 {
		t.Errorf("unknown hub: %d ERROR lines, want 1:\n%s", n, l)
	}
	if n := count(l, "level=ERROR", "function=BadKey", "refused the connection's credential"); n != 1 {
		t.Errorf("wrong key: %d ERROR lines, want 1:\n%s", n, l)
	}
	if n := count(l, "level=ERROR", "function=Gone", "is unreachable"); n != 1 {
		t.Errorf("unreachable: %d ERROR lines, want 1:\n%s", n, l)
	}
	if strings.Contains(l, peer.Key) {
		t.Error("the key was logged")
	}
}
