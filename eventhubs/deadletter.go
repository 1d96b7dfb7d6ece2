package eventhubs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/extension/driver"
)

// LegacyDeadLetterPrefix is where azbind before the one dead-letter layout
// (driver.DeadLetterPrefix) wrote failed batches:
//
//	eventhubs-deadletters/<function>/<fqns>/<hub>/<group>/<partition>/<first seq>-<last seq>
//
// Nothing is written there any more; ListDeadLetters, ReadDeadLetter and Replay still read
// those documents (without a host id), so batches dead-lettered before an upgrade are not lost.
const LegacyDeadLetterPrefix = "eventhubs-deadletters/"

// EventMetadata is the metadata of one dead-lettered event (driver.DeadLetterEvent.Metadata):
// its position and what Replay sends again.
type EventMetadata struct {
	SequenceNumber   int64          `json:"sequenceNumber"`
	Offset           string         `json:"offset"`
	EnqueuedTime     *time.Time     `json:"enqueuedTime,omitempty"`
	PartitionKey     *string        `json:"partitionKey,omitempty"`
	ContentType      *string        `json:"contentType,omitempty"`
	MessageID        *string        `json:"messageId,omitempty"`
	CorrelationID    any            `json:"correlationId,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
	SystemProperties map[string]any `json:"systemProperties,omitempty"`
}

// Metadata decodes one dead-lettered event's metadata (numbers in properties as int64 or
// float64).
func Metadata(ev driver.DeadLetterEvent) (*EventMetadata, error) {
	var m EventMetadata
	if len(ev.Metadata) == 0 {
		return &m, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(ev.Metadata)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("eventhubs: dead-lettered event metadata: %w", err)
	}
	m.Properties, m.SystemProperties = numbers(m.Properties), numbers(m.SystemProperties)
	if n, ok := m.CorrelationID.(json.Number); ok {
		m.CorrelationID = n.String()
	}
	return &m, nil
}

// deadLetterID names a batch by its position: <partition>-<first seq>-<last seq>.
func deadLetterID(pid string, first, last int64) string {
	return fmt.Sprintf("p%s-%020d-%020d", pid, first, last)
}

func (t *trigger) newDeadLetter(pc *PartitionContext, evs []*azeventhubs.ReceivedEventData, cause error, now time.Time) *driver.DeadLetter {
	first, last := evs[0].SequenceNumber, evs[len(evs)-1].SequenceNumber
	dl := &driver.DeadLetter{Function: t.fn, Trigger: TriggerType, HostID: t.hostID, Connection: t.connName, Time: now.UTC(),
		Source: driver.DeadLetterSource{Account: pc.FullyQualifiedNamespace, Entity: pc.EventHubName, ConsumerGroup: pc.ConsumerGroup,
			Partition: pc.PartitionID, FirstSequence: &first, LastSequence: &last, FirstOffset: evs[0].Offset}}
	if cause != nil {
		dl.Reason = cause.Error()
	}
	for _, e := range evs {
		md, _ := json.Marshal(EventMetadata{SequenceNumber: e.SequenceNumber, Offset: e.Offset, EnqueuedTime: e.EnqueuedTime,
			PartitionKey: e.PartitionKey, ContentType: e.ContentType, MessageID: e.MessageID, CorrelationID: jsonSafe(e.CorrelationID),
			Properties: jsonSafeMap(e.Properties), SystemProperties: jsonSafeMap(e.SystemProperties)})
		dl.Events = append(dl.Events, driver.DeadLetterEvent{Body: e.Body, Metadata: md})
	}
	return dl
}

// jsonSafe keeps values JSON can carry and turns the rest (AMQP symbols, UUIDs, …) into text.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, []byte, time.Time:
		return x
	case fmt.Stringer:
		return x.String()
	}
	if _, err := json.Marshal(v); err == nil {
		return v
	}
	return fmt.Sprint(v)
}

func jsonSafeMap(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = jsonSafe(v)
	}
	return out
}

// ListDeadLetters lists the keys of dead-lettered batches in host storage: those of host hostID
// (every host when "") and function (every function when ""), then those of the legacy layout
// (LegacyDeadLetterPrefix) of that function.
func ListDeadLetters(ctx context.Context, hs driver.HostStorage, hostID, function string) ([]string, error) {
	keys, err := driver.ListDeadLetters(ctx, hs, hostID, function)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: %w", err)
	}
	legacy, err := hs.List(ctx, LegacyDeadLetterPrefix)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: listing legacy dead letters: %w", err)
	}
	for _, k := range legacy {
		fn, _, _ := strings.Cut(strings.TrimPrefix(k, LegacyDeadLetterPrefix), "/")
		if function == "" || strings.EqualFold(fn, function) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// legacyDeadLetter is the document of the legacy layout.
type legacyDeadLetter struct {
	Function                string `json:"function"`
	HostID                  string `json:"hostId"`
	FullyQualifiedNamespace string `json:"fullyQualifiedNamespace"`
	EventHubName            string `json:"eventHubName"`
	ConsumerGroup           string `json:"consumerGroup"`
	PartitionID             string `json:"partitionId"`
	FirstSequenceNumber     int64  `json:"firstSequenceNumber"`
	LastSequenceNumber      int64  `json:"lastSequenceNumber"`
	Error                   string `json:"error"`
	FailedAt                time.Time
	Events                  []struct {
		Body []byte `json:"body"`
		EventMetadata
	} `json:"events"`
}

// ReadDeadLetter reads one dead-lettered batch, of the one layout or the legacy one.
func ReadDeadLetter(ctx context.Context, hs driver.HostStorage, key string) (*driver.DeadLetter, error) {
	if !strings.HasPrefix(key, LegacyDeadLetterPrefix) {
		dl, err := driver.ReadDeadLetter(ctx, hs, key)
		if err != nil {
			return nil, fmt.Errorf("eventhubs: %w", err)
		}
		return dl, nil
	}
	rec, err := hs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: reading dead letter %s: %w", key, err)
	}
	var old legacyDeadLetter
	if err := json.Unmarshal(rec.Data, &old); err != nil {
		return nil, fmt.Errorf("eventhubs: decoding dead letter %s: %w", key, err)
	}
	first, last := old.FirstSequenceNumber, old.LastSequenceNumber
	dl := &driver.DeadLetter{Key: key, Function: old.Function, Trigger: TriggerType, HostID: old.HostID, Time: old.FailedAt, Reason: old.Error,
		Source: driver.DeadLetterSource{Account: old.FullyQualifiedNamespace, Entity: old.EventHubName, ConsumerGroup: old.ConsumerGroup,
			Partition: old.PartitionID, FirstSequence: &first, LastSequence: &last}}
	for _, e := range old.Events {
		md, _ := json.Marshal(e.EventMetadata)
		dl.Events = append(dl.Events, driver.DeadLetterEvent{Body: e.Body, Metadata: md})
	}
	if len(old.Events) > 0 {
		dl.Source.FirstOffset = old.Events[0].Offset
	}
	return dl, nil
}

// numbers turns JSON numbers back into int64 (or float64) property values.
func numbers(m map[string]any) map[string]any {
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				m[k] = i
			} else if f, err := n.Float64(); err == nil {
				m[k] = f
			}
		}
	}
	return m
}

// Replay re-sends a dead-lettered batch to its event hub through producer (a client for that
// hub), then deletes the dead letter. Events go back to the partition they came from (or, when
// they had a partition key, with that key), bodies and application properties as they were;
// the trigger then processes them again as new events, after what the partition holds now.
// Other consumer groups of the hub see them a second time. Replaying is the choice azbind makes
// over re-invoking the function directly because it keeps the one path through the trigger:
// ordering, checkpoints and this dead-letter protection apply to the replayed events too.
func Replay(ctx context.Context, hs driver.HostStorage, producer *azeventhubs.ProducerClient, key string) (int, error) {
	dl, err := ReadDeadLetter(ctx, hs, key)
	if err != nil {
		return 0, err
	}
	if dl.Trigger != TriggerType {
		return 0, fmt.Errorf("eventhubs: %s is a %s dead letter, not an Event Hubs one", key, dl.Trigger)
	}
	type event struct {
		body []byte
		md   *EventMetadata
	}
	evs := make([]event, len(dl.Events))
	for i, e := range dl.Events {
		md, err := Metadata(e)
		if err != nil {
			return 0, fmt.Errorf("eventhubs: %s: %w", key, err)
		}
		evs[i] = event{e.Body, md}
	}
	sent := 0
	send := func(opts *azeventhubs.EventDataBatchOptions, evs []event) error {
		for len(evs) > 0 {
			b, err := producer.NewEventDataBatch(ctx, opts)
			if err != nil {
				return err
			}
			n := 0
			for _, e := range evs {
				ed := &azeventhubs.EventData{Body: e.body, Properties: e.md.Properties, ContentType: e.md.ContentType, MessageID: e.md.MessageID, CorrelationID: e.md.CorrelationID}
				if err := b.AddEventData(ed, nil); err != nil {
					if errors.Is(err, azeventhubs.ErrEventDataTooLarge) && n > 0 {
						break
					}
					return fmt.Errorf("event %d: %w", e.md.SequenceNumber, err)
				}
				n++
			}
			if err := producer.SendEventDataBatch(ctx, b, nil); err != nil {
				return err
			}
			sent += n
			evs = evs[n:]
		}
		return nil
	}
	// Consecutive events with the same partition key go in one batch, keeping their order.
	for len(evs) > 0 {
		j := 1
		for j < len(evs) && samePtr(evs[j].md.PartitionKey, evs[0].md.PartitionKey) {
			j++
		}
		opts := &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr(dl.Source.Partition)}
		if evs[0].md.PartitionKey != nil {
			opts = &azeventhubs.EventDataBatchOptions{PartitionKey: evs[0].md.PartitionKey}
		}
		if err := send(opts, evs[:j]); err != nil {
			return sent, fmt.Errorf("eventhubs: replaying %s: %w", key, err)
		}
		evs = evs[j:]
	}
	if err := hs.Delete(ctx, key, driver.Cond{}); err != nil {
		return sent, fmt.Errorf("eventhubs: replayed %s but could not delete it (replaying it again would send its events twice): %w", key, err)
	}
	return sent, nil
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// sequenceRange is "first–last" of a dead letter, for logs.
func sequenceRange(dl *driver.DeadLetter) string {
	if dl.Source.FirstSequence == nil || dl.Source.LastSequence == nil {
		return ""
	}
	return strconv.FormatInt(*dl.Source.FirstSequence, 10) + "-" + strconv.FormatInt(*dl.Source.LastSequence, 10)
}
