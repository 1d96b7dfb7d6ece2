package servicebus

import (
	"context"

	"github.com/azbind/azbind/extension/driver"
)

// Scale implements driver.Scaler: the entity's active message count, and the Functions target
// executions per instance — maxMessageBatchSize for batches, maxConcurrentSessions with sessions,
// maxConcurrentCalls otherwise (reference §5.6). Reading the count needs Manage rights (the
// administration API over HTTPS).
func (t *trigger) Scale(ctx context.Context) (driver.ScaleMetrics, error) {
	n, err := t.count(ctx)
	if err != nil {
		return driver.ScaleMetrics{}, err
	}
	return driver.ScaleMetrics{Backlog: n, TargetPerInstance: int64(t.targetPerInstance())}, nil
}

func (t *trigger) targetPerInstance() int {
	switch {
	case t.batch:
		return t.opts.MaxMessageBatchSize
	case t.sessions:
		return t.opts.MaxConcurrentSessions
	}
	return t.opts.MaxConcurrentCalls
}

func (t *trigger) activeMessageCount(ctx context.Context) (int64, error) {
	ac, err := t.client.admin()
	if err != nil {
		return 0, t.client.scrub.Errorf("servicebus: %s: administration client: %w", t.entity(), err)
	}
	if t.queue != "" {
		p, err := ac.GetQueueRuntimeProperties(ctx, t.queue, nil)
		if err != nil {
			return 0, t.client.scrub.Errorf("servicebus: %s: reading the message count (needs Manage rights): %w", t.entity(), err)
		}
		if p == nil {
			return 0, nil // a missing entity counts as no backlog
		}
		return int64(p.ActiveMessageCount), nil
	}
	p, err := ac.GetSubscriptionRuntimeProperties(ctx, t.topic, t.sub, nil)
	if err != nil {
		return 0, t.client.scrub.Errorf("servicebus: %s: reading the message count (needs Manage rights): %w", t.entity(), err)
	}
	if p == nil {
		return 0, nil
	}
	return int64(p.ActiveMessageCount), nil
}
