package eventhubs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

type outputConfig struct {
	EventHubName string `binding:"eventHubName"`
}

// output is the eventHub output binding.
type output struct {
	where    string
	hub      string
	key      *driver.Template // partitionKey; nil when not declared
	producer *azeventhubs.ProducerClient
}

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	var cfg outputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.EventHubName, "{}") {
		return nil, bc.Errorf("eventHubName", "use a literal name or %setting%", "%q: the output's event hub cannot use {…} expressions (the producer is bound to one hub)", cfg.EventHubName)
	}
	retry, err := outputOptions(bc)
	if err != nil {
		return nil, err
	}
	conn, err := bc.Connection(ctx, connection.EventHubs)
	if err != nil {
		return nil, err
	}
	hub := hubOf(conn, cfg.EventHubName)
	if hub == "" {
		return nil, bc.Errorf("eventHubName", "set eventHubName, or EntityPath in the connection string", "is required")
	}
	o := &output{where: bc.Spec.Where, hub: hub}
	if v, ok := bc.Spec.Prop("partitionKey"); ok && v != nil && v != "" {
		if o.key, err = bc.Template("partitionKey"); err != nil {
			return nil, err
		}
	}
	if o.producer, err = sharedProducer(ctx, bc.Host, conn, hub, retry); err != nil {
		return nil, &driver.ConfigError{Where: bc.Spec.Where, Field: "connection", Err: err}
	}
	return o, nil
}

// Open implements driver.Output: the partition key is evaluated for this invocation.
func (o *output) Open(ctx context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	s := &sink{o: o}
	if o.key != nil {
		k, err := o.key.Eval(fc)
		if err != nil {
			return nil, err
		}
		s.key = &k
	}
	return s, nil
}

type sink struct {
	o   *output
	key *string
	evs []*azeventhubs.EventData
}

// Add buffers an event until Flush: an *azeventhubs.EventData or azeventhubs.EventData as is;
// string, []byte, json.RawMessage, io.Reader or any value as JSON for the body (driver.Encode).
func (s *sink) Add(ctx context.Context, item any) error {
	switch x := item.(type) {
	case *azeventhubs.EventData:
		if x == nil {
			return fmt.Errorf("%s: nil *azeventhubs.EventData", s.o.where)
		}
		s.evs = append(s.evs, x)
		return nil
	case azeventhubs.EventData:
		s.evs = append(s.evs, &x)
		return nil
	case *azeventhubs.ReceivedEventData:
		s.evs = append(s.evs, &azeventhubs.EventData{Body: x.Body, Properties: x.Properties, ContentType: x.ContentType, MessageID: x.MessageID, CorrelationID: x.CorrelationID})
		return nil
	}
	data, _, err := driver.Encode(item)
	if err != nil {
		return fmt.Errorf("%s: %w", s.o.where, err)
	}
	s.evs = append(s.evs, &azeventhubs.EventData{Body: data})
	return nil
}

// Flush sends the events in order, in as few EventDataBatches as the hub's size limit allows.
func (s *sink) Flush(ctx context.Context) error {
	if len(s.evs) == 0 {
		return nil
	}
	if err := Send(ctx, s.o.producer, s.key, s.evs); err != nil {
		return fmt.Errorf("%s: event hub %s: %w", s.o.where, s.o.hub, err)
	}
	s.evs = nil
	return nil
}

// Send sends evs in order through producer with the SDK's EventDataBatch, starting a new batch
// whenever the current one is full. partitionKey may be nil. An event larger than an empty batch
// allows is an error (nothing after it is sent).
func Send(ctx context.Context, producer *azeventhubs.ProducerClient, partitionKey *string, evs []*azeventhubs.EventData) error {
	opts := &azeventhubs.EventDataBatchOptions{PartitionKey: partitionKey}
	total, done := len(evs), 0
	for len(evs) > 0 {
		b, err := producer.NewEventDataBatch(ctx, opts)
		if err != nil {
			return err
		}
		n := 0
		for _, e := range evs {
			if err := b.AddEventData(e, nil); err != nil {
				if errors.Is(err, azeventhubs.ErrEventDataTooLarge) && n > 0 {
					break
				}
				return fmt.Errorf("event %d of %d (%d sent): %w", done+n+1, total, done, err)
			}
			n++
		}
		if err := producer.SendEventDataBatch(ctx, b, nil); err != nil {
			return err
		}
		evs = evs[n:]
		done += n
	}
	return nil
}
