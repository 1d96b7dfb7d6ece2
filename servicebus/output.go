package servicebus

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension/driver"
)

// output is the `serviceBus` output binding (queue or topic).
type output struct {
	where  string
	field  string
	name   *driver.Template
	client *sharedClient

	mu      sync.Mutex
	senders map[string]*azservicebus.Sender
	closed  bool
}

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	var cfg bindingConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	if err := checkEntityNames(bc, cfg, false); err != nil {
		return nil, err
	}
	field := "queueName"
	if cfg.TopicName != "" {
		field = "topicName"
	}
	tmpl, err := bc.Template(field)
	if err != nil {
		return nil, err
	}
	// An output reads only the client's options: a bad trigger setting does not fail it.
	sec, err := hostSection(ctx, bc)
	if err != nil {
		return nil, err
	}
	if sec.clientErr != nil {
		return nil, sec.clientErr
	}
	opts := sec.client.withDefaults()
	cl, err := bindingClient(ctx, bc, opts.ClientRetryOptions)
	if err != nil {
		return nil, err
	}
	if tmpl.IsLiteral() {
		if err := checkEntityPath(bc, cl.conn, field, tmpl.Literal()); err != nil {
			return nil, err
		}
	}
	return &output{where: bc.Spec.Where, field: field, name: tmpl, client: cl, senders: map[string]*azservicebus.Sender{}}, nil
}

// Open implements driver.Output: the entity name is evaluated for this invocation.
func (o *output) Open(ctx context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	name, err := o.name.Eval(fc)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%s: %s: evaluated to an empty name", o.where, o.field)
	}
	if entityPathMismatch(o.client.conn, name) {
		return nil, fmt.Errorf("%s: %s: %q disagrees with EntityPath %q of connection %q: %s", o.where, o.field, name, o.client.conn.EntityPath, o.client.conn.Name, errEntityPathTwice)
	}
	return &sink{o: o, entity: name}, nil
}

func (o *output) sender(entity string) (*azservicebus.Sender, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, errors.New("servicebus: output closed")
	}
	if s, ok := o.senders[entity]; ok {
		return s, nil
	}
	s, err := o.client.NewSender(entity, nil)
	if err != nil {
		return nil, err
	}
	o.senders[entity] = s
	return s, nil
}

// Close closes the output's senders (the runtime calls it after the drain).
func (o *output) Close() error {
	o.mu.Lock()
	senders := o.senders
	o.senders, o.closed = nil, true
	o.mu.Unlock()
	var errs []error
	for _, s := range senders {
		ctx, cancel := context.WithTimeout(context.Background(), 10e9)
		if err := s.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	return o.client.scrub.Err(errors.Join(errs...))
}

type sink struct {
	o      *output
	entity string
	msgs   []*azservicebus.Message
}

// Message converts an output value to a Service Bus message: *azservicebus.Message (or a value)
// as is, *azservicebus.ReceivedMessage as its Message(), []byte and string as the body, and any
// other value as JSON with content type application/json.
func Message(item any) (*azservicebus.Message, error) {
	switch x := item.(type) {
	case *azservicebus.Message:
		if x == nil {
			return nil, errors.New("nil *azservicebus.Message")
		}
		c := *x
		return &c, nil
	case azservicebus.Message:
		return &x, nil
	case *azservicebus.ReceivedMessage:
		if x == nil {
			return nil, errors.New("nil *azservicebus.ReceivedMessage")
		}
		return x.Message(), nil
	case []byte:
		return &azservicebus.Message{Body: x}, nil
	case string:
		return &azservicebus.Message{Body: []byte(x)}, nil
	}
	if item == nil || (reflect.ValueOf(item).Kind() == reflect.Pointer && reflect.ValueOf(item).IsNil()) {
		return nil, errors.New("nil message")
	}
	b, ct, err := driver.Encode(item)
	if err != nil {
		return nil, err
	}
	m := &azservicebus.Message{Body: b}
	if ct == "application/json" {
		m.ContentType = &ct
	}
	return m, nil
}

// Add converts item and holds it until Flush.
func (s *sink) Add(ctx context.Context, item any) error {
	m, err := Message(item)
	if err != nil {
		return fmt.Errorf("%s: cannot send to %s: %w", s.o.where, s.entity, err)
	}
	s.msgs = append(s.msgs, m)
	return nil
}

func sameGroup(a, b *azservicebus.Message) bool {
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.SessionID, b.SessionID) && eq(a.PartitionKey, b.PartitionKey)
}

// Flush sends the held messages: as SDK batches split at the size limit (and where the session
// or partition key changes); a message with a scheduled enqueue time is sent on its own.
func (s *sink) Flush(ctx context.Context) error {
	if len(s.msgs) == 0 {
		return nil
	}
	snd, err := s.o.sender(s.entity)
	if err != nil {
		return s.o.client.scrub.Errorf("%s: %s: %w", s.o.where, s.entity, err)
	}
	fail := func(what string, err error) error {
		return s.o.client.scrub.Errorf("%s: %s to %s: %w", s.o.where, what, s.entity, err)
	}
	var (
		batch *azservicebus.MessageBatch
		first *azservicebus.Message
		sent  int
	)
	flush := func() error {
		if batch == nil || batch.NumMessages() == 0 {
			return nil
		}
		n := int(batch.NumMessages())
		if err := snd.SendMessageBatch(ctx, batch, nil); err != nil {
			return fail(fmt.Sprintf("sending messages %d-%d of %d", sent+1, sent+n, len(s.msgs)), err)
		}
		sent += n
		batch = nil
		return nil
	}
	for i, m := range s.msgs {
		if m.ScheduledEnqueueTime != nil {
			if err := flush(); err != nil {
				return err
			}
			if err := snd.SendMessage(ctx, m, nil); err != nil {
				return fail(fmt.Sprintf("sending message %d of %d", i+1, len(s.msgs)), err)
			}
			sent++
			continue
		}
		if batch != nil && !sameGroup(first, m) {
			if err := flush(); err != nil {
				return err
			}
		}
		for {
			if batch == nil {
				if batch, err = snd.NewMessageBatch(ctx, nil); err != nil {
					return fail("creating a batch", err)
				}
				first = m
			}
			err := batch.AddMessage(m, nil)
			if err == nil {
				break
			}
			if !errors.Is(err, azservicebus.ErrMessageTooLarge) {
				return fail(fmt.Sprintf("adding message %d of %d", i+1, len(s.msgs)), err)
			}
			if batch.NumMessages() == 0 {
				return fail(fmt.Sprintf("message %d of %d (%d bytes)", i+1, len(s.msgs), len(m.Body)),
					fmt.Errorf("%w: it exceeds the entity's maximum message size", azservicebus.ErrMessageTooLarge))
			}
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	s.msgs = nil
	return nil
}
