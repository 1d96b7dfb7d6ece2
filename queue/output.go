package queue

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/azbind/azbind/extension/driver"
)

// MaxMessageSize is the largest message text Azure Queue Storage accepts (64 KiB).
const MaxMessageSize = 64 * 1024

// output is the `queue` output binding.
type output struct {
	where string
	name  *driver.Template
	svc   *azqueue.ServiceClient
	enc   Encoding
	hub   *Hub // wakes this host's listeners of the queues written to

	mu      sync.Mutex
	created map[string]bool // queues known to exist, per queue name (this binding's client)
}

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	var cfg bindingConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	tmpl, err := bc.Template("queueName")
	if err != nil {
		return nil, err
	}
	if tmpl.IsLiteral() {
		if err := ValidQueueName(strings.ToLower(tmpl.Literal())); err != nil {
			return nil, bc.Errorf("queueName", "", "%w", err)
		}
	}
	o, err := optionsFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	enc := o.enc
	svc, err := bindingServiceClient(ctx, bc)
	if err != nil {
		return nil, err
	}
	hub, err := HubFor(ctx, bc.Host)
	if err != nil {
		return nil, err
	}
	return &output{where: bc.Spec.Where, name: tmpl, svc: svc, enc: enc, hub: hub, created: map[string]bool{}}, nil
}

// Open implements driver.Output: the queue name is evaluated for this invocation.
func (o *output) Open(ctx context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	name, err := o.name.Eval(fc)
	if err != nil {
		return nil, err
	}
	name = strings.ToLower(name) // as WebJobs does: "shipped-{ID}" with ID "A1" writes to shipped-a1
	if err := ValidQueueName(name); err != nil {
		return nil, fmt.Errorf("%s: queueName: evaluated to an invalid name: %w", o.where, err)
	}
	return &sink{o: o, queue: name}, nil
}

type sink struct {
	o     *output
	queue string
	msgs  []string
}

// Add encodes item (string, []byte, json.RawMessage, io.Reader, *Message, or a value as JSON) and
// buffers it until Flush.
func (s *sink) Add(ctx context.Context, item any) error {
	var data []byte
	switch x := item.(type) {
	case *Message:
		data = x.Body
	case Message:
		data = x.Body
	default:
		if item == nil || (reflect.ValueOf(item).Kind() == reflect.Pointer && reflect.ValueOf(item).IsNil()) {
			return fmt.Errorf("%s: cannot send a nil message to queue %s", s.o.where, s.queue)
		}
		b, _, err := driver.Encode(item)
		if err != nil {
			return fmt.Errorf("%s: %w", s.o.where, err)
		}
		data = b
	}
	if s.o.enc == None {
		if err := xmlSafe(data); err != nil {
			return fmt.Errorf("%s: queue %s: messageEncoding is none, so the message is sent as text, but %v: set messageEncoding to base64 (the default) to send arbitrary bytes: %w", s.o.where, s.queue, err, ErrEncode)
		}
	}
	text := s.o.enc.encode(data)
	if len(text) > MaxMessageSize {
		return fmt.Errorf("%s: message of %d bytes (%d encoded as %s) exceeds the 64 KiB limit of Azure Queue Storage: store large payloads in a blob and send a reference", s.o.where, len(data), len(text), s.o.enc)
	}
	s.msgs = append(s.msgs, text)
	return nil
}

// xmlSafe reports bytes that a queue message sent as plain text (messageEncoding none) cannot
// carry: the service takes message text in XML, so invalid UTF-8 and characters outside the XML
// 1.0 range would be replaced with U+FFFD by the XML encoder, changing the message silently.
func xmlSafe(b []byte) error {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return fmt.Errorf("byte 0x%02x at offset %d is not valid UTF-8", b[i], i)
		case r == 0x09 || r == 0x0A || r == 0x0D, r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return fmt.Errorf("character %U at offset %d cannot be carried in XML text", r, i)
		}
		i += n
	}
	return nil
}

// Flush sends the buffered messages, creating the queue the first time it is needed.
func (s *sink) Flush(ctx context.Context) error {
	if len(s.msgs) == 0 {
		return nil
	}
	q := s.o.svc.NewQueueClient(s.queue)
	if err := s.o.ensure(ctx, q, s.queue); err != nil {
		return fmt.Errorf("%s: %w", s.o.where, err)
	}
	for i, text := range s.msgs {
		_, err := q.EnqueueMessage(ctx, text, nil)
		if queueerror.HasCode(err, queueerror.QueueNotFound) {
			s.o.forget(s.queue)
			if err = s.o.ensure(ctx, q, s.queue); err == nil {
				_, err = q.EnqueueMessage(ctx, text, nil)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: send message %d of %d to queue %s: %w", s.o.where, i+1, len(s.msgs), s.queue, err)
		}
	}
	s.msgs = nil
	s.o.hub.Notify(q.URL())
	return nil
}

func (o *output) ensure(ctx context.Context, q *azqueue.QueueClient, name string) error {
	o.mu.Lock()
	ok := o.created[name]
	o.mu.Unlock()
	if ok {
		return nil
	}
	if err := createIfMissing(ctx, q); err != nil {
		return err
	}
	o.mu.Lock()
	o.created[name] = true
	o.mu.Unlock()
	return nil
}

func (o *output) forget(name string) {
	o.mu.Lock()
	delete(o.created, name)
	o.mu.Unlock()
}
