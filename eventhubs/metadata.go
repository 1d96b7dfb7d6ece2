package eventhubs

import (
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/extension/driver"
)

// PartitionContext is the PartitionContext binding data: which partition of which hub and consumer
// group an invocation's events come from.
type PartitionContext struct {
	FullyQualifiedNamespace string
	EventHubName            string
	ConsumerGroup           string
	PartitionID             string
}

// MetadataNames are the trigger's binding data names (reference §3.6). TriggerPartitionContext is
// the same value as PartitionContext, under the name the v5 extension also gives it.
var MetadataNames = []string{"PartitionContext", "TriggerPartitionContext", "PartitionKey", "Offset", "SequenceNumber", "EnqueuedTimeUtc", "Properties", "SystemProperties",
	"PartitionKeyArray", "OffsetArray", "SequenceNumberArray", "EnqueuedTimeUtcArray", "PropertiesArray", "SystemPropertiesArray"}

func enqueued(e *azeventhubs.ReceivedEventData) time.Time {
	if e.EnqueuedTime == nil {
		return time.Time{}
	}
	return e.EnqueuedTime.UTC()
}

func partitionKey(e *azeventhubs.ReceivedEventData) any {
	if e.PartitionKey == nil {
		return nil
	}
	return *e.PartitionKey
}

// systemProperties are the event's system properties plus SequenceNumber, Offset, PartitionKey and
// EnqueuedTimeUtc, as Functions gives them.
func systemProperties(e *azeventhubs.ReceivedEventData) map[string]any {
	m := make(map[string]any, len(e.SystemProperties)+4)
	for k, v := range e.SystemProperties {
		m[k] = v
	}
	m["SequenceNumber"] = e.SequenceNumber
	m["Offset"] = e.Offset
	m["PartitionKey"] = partitionKey(e)
	m["EnqueuedTimeUtc"] = enqueued(e)
	return m
}

func properties(e *azeventhubs.ReceivedEventData) map[string]any {
	if e.Properties == nil {
		return map[string]any{}
	}
	return e.Properties
}

// singleMetadata is the binding data of one event.
func singleMetadata(pc *PartitionContext, e *azeventhubs.ReceivedEventData) driver.Metadata {
	return driver.MapMetadata{
		"PartitionContext":        pc,
		"TriggerPartitionContext": pc,
		"PartitionKey":            partitionKey(e),
		"Offset":                  e.Offset,
		"SequenceNumber":          e.SequenceNumber,
		"EnqueuedTimeUtc":         enqueued(e),
		"Properties":              properties(e),
		"SystemProperties":        systemProperties(e),
	}
}

// batchMetadata is the binding data of a batch: the …Array names, one element per event.
type batchMetadata struct {
	pc  *PartitionContext
	evs []*azeventhubs.ReceivedEventData
}

func (b batchMetadata) Lookup(name string) (any, bool) {
	col := func(f func(e *azeventhubs.ReceivedEventData) any) []any {
		out := make([]any, len(b.evs))
		for i, e := range b.evs {
			out[i] = f(e)
		}
		return out
	}
	switch strings.ToLower(name) {
	case "partitioncontext", "triggerpartitioncontext":
		return b.pc, true
	case "partitionkeyarray":
		return col(partitionKey), true
	case "offsetarray":
		return col(func(e *azeventhubs.ReceivedEventData) any { return e.Offset }), true
	case "sequencenumberarray":
		return col(func(e *azeventhubs.ReceivedEventData) any { return e.SequenceNumber }), true
	case "enqueuedtimeutcarray":
		return col(func(e *azeventhubs.ReceivedEventData) any { return enqueued(e) }), true
	case "propertiesarray":
		return col(func(e *azeventhubs.ReceivedEventData) any { return properties(e) }), true
	case "systempropertiesarray":
		return col(func(e *azeventhubs.ReceivedEventData) any { return systemProperties(e) }), true
	}
	return nil, false
}
