package queue

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/azbind/azbind/connection"
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
		if err := ValidQueueName(tmpl.Literal()); err != nil {
			return nil, fmt.Errorf("%s: queueName: %w: %w", bc.Spec.Where, err, driver.ErrInvalidConfig)
		}
	}
	_, enc, err := listenerOptions(bc)
	if err != nil {
		return nil, err
	}
	svc, err := bindingServiceClient(ctx, bc)
	if err != nil {
		return nil, err
	}
	return &output{where: bc.Spec.Where, name: tmpl, svc: svc, enc: enc, created: map[string]bool{}}, nil
}

// Open implements driver.Output: the queue name is evaluated for this invocation.
func (o *output) Open(ctx context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	name, err := o.name.Eval(fc)
	if err != nil {
		return nil, err
	}
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
		return redact(fmt.Errorf("%s: %w", s.o.where, err))
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
			return redact(fmt.Errorf("%s: send message %d of %d to queue %s: %w", s.o.where, i+1, len(s.msgs), s.queue, err))
		}
	}
	s.msgs = nil
	notify(q.URL())
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

// clientInput is the `queue` input binding: the handler gets an SDK client.
type clientInput struct {
	name    *driver.Template
	svc     *azqueue.ServiceClient
	service bool
	where   string
}

var (
	queueClientType   = reflect.TypeFor[*azqueue.QueueClient]()
	serviceClientType = reflect.TypeFor[*azqueue.ServiceClient]()
)

func newInput(ctx context.Context, bc *driver.BindContext) (driver.Input, error) {
	in := &clientInput{where: bc.Spec.Where}
	switch bc.Param {
	case nil, queueClientType:
	case serviceClientType:
		in.service = true
	default:
		return nil, fmt.Errorf("%s: a queue input binding supplies *azqueue.QueueClient or *azqueue.ServiceClient, not %s: change the parameter type (to read messages use a queueTrigger): %w", bc.Spec.Where, bc.Param, driver.ErrUnsupportedType)
	}
	if !in.service {
		var cfg bindingConfig
		if err := bc.Decode(&cfg); err != nil {
			return nil, err
		}
		t, err := bc.Template("queueName")
		if err != nil {
			return nil, err
		}
		if t.IsLiteral() {
			if err := ValidQueueName(t.Literal()); err != nil {
				return nil, fmt.Errorf("%s: queueName: %w: %w", bc.Spec.Where, err, driver.ErrInvalidConfig)
			}
		}
		in.name = t
	}
	var err error
	if in.svc, err = bindingServiceClient(ctx, bc); err != nil {
		return nil, err
	}
	return in, nil
}

// Bind implements driver.Input.
func (in *clientInput) Bind(ctx context.Context, fc *driver.FunctionContext) (any, error) {
	if in.service {
		return in.svc, nil
	}
	name, err := in.name.Eval(fc)
	if err != nil {
		return nil, err
	}
	if err := ValidQueueName(name); err != nil {
		return nil, fmt.Errorf("%s: queueName: evaluated to an invalid name: %w", in.where, err)
	}
	return in.svc.NewQueueClient(name), nil
}

func init() {
	driver.Register(driver.Extension{
		Name: "queues",
		Bindings: []driver.BindingType{
			{Type: "queueTrigger", Service: connection.Queue, NewTrigger: newTrigger},
			{Type: "queue", Service: connection.Queue, NewInput: newInput, NewOutput: newOutput},
		},
	})
}

// Trigger declares a queueTrigger for the Go API (Host.Func); props may add "connection"
// and other properties.
func Trigger(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("queueTrigger", name, driver.DirIn, "queueName", queueName, props...)
}

// Output declares a queue output binding; name "$return" takes the handler's return value.
// queueName may use {binding data} and %setting%.
func Output(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("queue", name, driver.DirOut, "queueName", queueName, props...)
}

// Client declares a queue input binding that supplies a *azqueue.QueueClient for queueName
// (or a *azqueue.ServiceClient when the parameter has that type).
func Client(name, queueName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("queue", name, driver.DirIn, "queueName", queueName, props...)
}

// bindingServiceClient resolves the binding's connection and builds the queue service client.
func bindingServiceClient(ctx context.Context, bc *driver.BindContext) (*azqueue.ServiceClient, error) {
	conn, err := bc.Connection(ctx, connection.Queue)
	if err != nil {
		return nil, err
	}
	svc, err := NewServiceClient(conn)
	if err != nil {
		return nil, fmt.Errorf("%s: connection: %w", bc.Spec.Where, err)
	}
	return svc, nil
}
