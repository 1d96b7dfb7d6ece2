package servicebus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// Ported from azure-sdk-for-net, sdk/servicebus/Microsoft.Azure.WebJobs.Extensions.ServiceBus/
// tests/ServiceBusTriggerStrategyTests.cs, GetBindingData_MultipleDispatch_ReturnsExpectedValue:
// in a batch every …Array binding-data value has one element per message, also for fields that
// no message sets (ContentType, ReplyTo, To, Subject/Label, CorrelationId, DeadLetterSource,
// SessionId, …).
func TestBatchBindingDataArraysHaveOneElementPerMessage(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	arrays := []string{"DeliveryCountArray", "DeadLetterSourceArray", "LockTokenArray", "ExpiresAtUtcArray",
		"EnqueuedTimeUtcArray", "MessageIdArray", "ContentTypeArray", "ReplyToArray", "SequenceNumberArray",
		"ToArray", "SubjectArray", "LabelArray", "CorrelationIdArray", "SessionIdArray", "ReplyToSessionIdArray",
		"PartitionKeyArray", "TransactionPartitionKeyArray", "ApplicationPropertiesArray", "UserPropertiesArray"}
	var mu sync.Mutex
	var problems []string
	var handled int
	startHost(t, hostCfg{ext: map[string]any{"maxMessageBatchSize": 3, "minMessageBatchSize": 3, "maxBatchWaitTime": "00:00:02"}}, "Batch",
		extension.Action(func(ctx context.Context, msgs []string) error {
			fc := extension.FromContext(ctx)
			mu.Lock()
			defer mu.Unlock()
			handled += len(msgs)
			for _, n := range arrays {
				v, ok := fc.BindingData(n)
				a, _ := v.([]any)
				if !ok || len(a) != len(msgs) {
					problems = append(problems, fmt.Sprintf("%s = %v (present %v) for %d messages", n, v, ok, len(msgs)))
				}
			}
			return nil
		}), servicebus.Trigger("m", q, map[string]any{"cardinality": "many"}))
	send(t, q, "Event 1", "Event 2", "Event 3")
	wantCounts(t, q, amqppeer.Counts{})
	mu.Lock()
	defer mu.Unlock()
	if handled != 3 {
		t.Fatalf("handled %d messages, want 3", handled)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
