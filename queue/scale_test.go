package queue

import (
	"context"
	"fmt"
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

// The queueTrigger reports its backlog for target-based scaling: the approximate message count,
// with batchSize (16 by default) messages per instance.
func TestTriggerScale(t *testing.T) {
	q := env.NewQueue(t)
	tr := newTestTrigger(t, q, nil, nil)
	var s driver.Scaler = tr
	m, err := s.Scale(context.Background())
	if err != nil || m.Backlog != 0 || m.TargetPerInstance != DefaultBatchSize {
		t.Fatalf("empty queue: %+v, %v", m, err)
	}
	const n = 7
	for i := range n {
		env.Send(t, q, []byte(fmt.Sprint(i)))
	}
	if m, err = s.Scale(context.Background()); err != nil || m.Backlog != n || m.TargetPerInstance != DefaultBatchSize {
		t.Fatalf("after %d messages: %+v, %v; want backlog %d, target %d", n, m, err, n, DefaultBatchSize)
	}
	tr8 := newTestTrigger(t, q, nil, map[string]any{"batchSize": 8.0})
	if m, err = tr8.Scale(context.Background()); err != nil || m.TargetPerInstance != 8 {
		t.Fatalf("batchSize 8: %+v, %v", m, err)
	}
	missing := newTestTrigger(t, env.QueueName(t), nil, nil)
	if m, err = missing.Scale(context.Background()); err != nil || m.Backlog != 0 {
		t.Fatalf("missing queue: %+v, %v", m, err)
	}
}

// A bad listener setting fails queue triggers, not queue outputs: the host.json section is
// decoded once per host, and the output needs only messageEncoding.
func TestBadListenerSettingDoesNotFailOutput(t *testing.T) {
	cfg := map[string]any{"batchSize": 99.0}
	bc := bindContext(t, Output("out", "orders"), nil, cfg, nil)
	if _, err := newOutput(context.Background(), bc); err != nil {
		t.Fatalf("queue output failed on extensions.queues.batchSize: %v", err)
	}
	tbc := bindContext(t, Trigger("msg", "orders"), nil, cfg, nil)
	tbc.Host = bc.Host // the same host: the decoded section is shared
	if _, err := newTrigger(context.Background(), tbc); err == nil {
		t.Fatal("queue trigger accepted batchSize 99")
	}
	enc := map[string]any{"messageEncoding": "utf8"}
	if _, err := newOutput(context.Background(), bindContext(t, Output("out", "orders"), nil, enc, nil)); err == nil {
		t.Fatal("queue output accepted messageEncoding utf8")
	}
}
