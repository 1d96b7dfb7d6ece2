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

// DeadLetterPrefix is where failed batches go in host storage (the azure-webjobs-hosts container
// of AzureWebJobsStorage): one blob per batch,
//
//	eventhubs-deadletters/<function>/<fqns>/<hub>/<group>/<partition>/<first seq>-<last seq>
//
// with the sequence numbers zero-padded to 20 digits so that names sort by position.
const DeadLetterPrefix = "eventhubs-deadletters/"

// DeadLetter is one dead-lettered batch: the events whole (bodies byte for byte, properties, system
// properties) and the error of the last attempt.
type DeadLetter struct {
	Key                     string            `json:"-"` // its host-storage key
	Function                string            `json:"function"`
	HostID                  string            `json:"hostId,omitempty"`
	FullyQualifiedNamespace string            `json:"fullyQualifiedNamespace"`
	EventHubName            string            `json:"eventHubName"`
	ConsumerGroup           string            `json:"consumerGroup"`
	PartitionID             string            `json:"partitionId"`
	FirstSequenceNumber     int64             `json:"firstSequenceNumber"`
	LastSequenceNumber      int64             `json:"lastSequenceNumber"`
	Error                   string            `json:"error"`
	FailedAt                time.Time         `json:"failedAt"`
	Events                  []DeadLetterEvent `json:"events"`
}

// DeadLetterEvent is one event of a dead-lettered batch.
type DeadLetterEvent struct {
	Body             []byte         `json:"body"` // base64 in the JSON document
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

func seqName(n int64) string { return fmt.Sprintf("%020d", n) }

// deadLetterKey names a batch's blob.
func deadLetterKey(fn, fqns, hub, group, pid string, first, last int64) string {
	return fmt.Sprintf("%s%s/%s/%s/%s/%s/%s-%s", DeadLetterPrefix, fn, strings.ToLower(fqns), strings.ToLower(hub), strings.ToLower(group), pid, seqName(first), seqName(last))
}

func newDeadLetter(fn, hostID string, pc *PartitionContext, evs []*azeventhubs.ReceivedEventData, cause error, now time.Time) *DeadLetter {
	dl := &DeadLetter{Function: fn, HostID: hostID, FullyQualifiedNamespace: pc.FullyQualifiedNamespace, EventHubName: pc.EventHubName,
		ConsumerGroup: pc.ConsumerGroup, PartitionID: pc.PartitionID, FirstSequenceNumber: evs[0].SequenceNumber,
		LastSequenceNumber: evs[len(evs)-1].SequenceNumber, FailedAt: now.UTC()}
	if cause != nil {
		dl.Error = cause.Error()
	}
	for _, e := range evs {
		dl.Events = append(dl.Events, DeadLetterEvent{Body: e.Body, SequenceNumber: e.SequenceNumber, Offset: e.Offset, EnqueuedTime: e.EnqueuedTime,
			PartitionKey: e.PartitionKey, ContentType: e.ContentType, MessageID: e.MessageID, CorrelationID: jsonSafe(e.CorrelationID),
			Properties: jsonSafeMap(e.Properties), SystemProperties: jsonSafeMap(e.SystemProperties)})
	}
	dl.Key = deadLetterKey(fn, dl.FullyQualifiedNamespace, dl.EventHubName, dl.ConsumerGroup, dl.PartitionID, dl.FirstSequenceNumber, dl.LastSequenceNumber)
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

// writeDeadLetter stores dl in host storage (overwriting a previous copy of the same range, so
// that a batch dead-lettered twice after a restart is one blob).
func writeDeadLetter(ctx context.Context, hs driver.HostStorage, dl *DeadLetter) error {
	raw, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("eventhubs: encoding dead letter %s: %w", dl.Key, err)
	}
	md := map[string]string{"function": dl.Function, "partition": dl.PartitionID, "firstsequencenumber": strconv.FormatInt(dl.FirstSequenceNumber, 10),
		"lastsequencenumber": strconv.FormatInt(dl.LastSequenceNumber, 10), "events": strconv.Itoa(len(dl.Events))}
	if _, err := hs.Put(ctx, dl.Key, driver.Record{Data: raw, Metadata: md}, driver.Cond{}); err != nil {
		return fmt.Errorf("eventhubs: writing dead letter %s: %w", dl.Key, err)
	}
	return nil
}

// ListDeadLetters lists the keys of dead-lettered batches in host storage, of one function (or of
// every function when function is ""), oldest position first within a partition.
func ListDeadLetters(ctx context.Context, hs driver.HostStorage, function string) ([]string, error) {
	prefix := DeadLetterPrefix
	if function != "" {
		prefix += function + "/"
	}
	keys, err := hs.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: listing dead letters: %w", err)
	}
	return keys, nil
}

// ReadDeadLetter reads one dead-lettered batch.
func ReadDeadLetter(ctx context.Context, hs driver.HostStorage, key string) (*DeadLetter, error) {
	rec, err := hs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: reading dead letter %s: %w", key, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(rec.Data)))
	dec.UseNumber()
	var dl DeadLetter
	if err := dec.Decode(&dl); err != nil {
		return nil, fmt.Errorf("eventhubs: decoding dead letter %s: %w", key, err)
	}
	dl.Key = key
	for i := range dl.Events {
		dl.Events[i].Properties = numbers(dl.Events[i].Properties)
		dl.Events[i].SystemProperties = numbers(dl.Events[i].SystemProperties)
	}
	return &dl, nil
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
	sent := 0
	send := func(opts *azeventhubs.EventDataBatchOptions, evs []DeadLetterEvent) error {
		for len(evs) > 0 {
			b, err := producer.NewEventDataBatch(ctx, opts)
			if err != nil {
				return err
			}
			n := 0
			for _, e := range evs {
				ed := &azeventhubs.EventData{Body: e.Body, Properties: e.Properties, ContentType: e.ContentType, MessageID: e.MessageID, CorrelationID: e.CorrelationID}
				if err := b.AddEventData(ed, nil); err != nil {
					if errors.Is(err, azeventhubs.ErrEventDataTooLarge) && n > 0 {
						break
					}
					return fmt.Errorf("event %d: %w", e.SequenceNumber, err)
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
	evs := dl.Events
	for len(evs) > 0 {
		j := 1
		for j < len(evs) && samePtr(evs[j].PartitionKey, evs[0].PartitionKey) {
			j++
		}
		opts := &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr(dl.PartitionID)}
		if evs[0].PartitionKey != nil {
			opts = &azeventhubs.EventDataBatchOptions{PartitionKey: evs[0].PartitionKey}
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
