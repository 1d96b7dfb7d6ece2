package queue

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
	"github.com/azbind/azbind/extension/driver"
)

// trigger is the queueTrigger binding.
type trigger struct {
	fn     string
	queue  string
	client *azqueue.QueueClient
	poison *azqueue.QueueClient
	opts   ListenerOptions
	kind   paramKind
	// text: the handler takes a string, so a body that is not UTF-8 fails to bind (textBindError).
	text bool
}

type paramKind int

const (
	paramBody paramKind = iota
	paramMessagePtr
	paramMessage
)

var (
	messagePtrType = reflect.TypeFor[*Message]()
	messageType    = reflect.TypeFor[Message]()
)

var _ driver.BindingDataContract = (*trigger)(nil)

// BindingData implements driver.BindingDataContract: the C27 names, and "*" because the
// properties of a JSON payload are binding data too.
func (t *trigger) BindingData() []string {
	return append(append([]string{}, MetadataNames...), "*")
}

// Options returns the trigger's effective listener options.
func (t *trigger) Options() ListenerOptions { return t.opts.withDefaults() }

func newTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg bindingConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	// WebJobs lower-cases queue names before validating them ("coerce here to be nice").
	cfg.QueueName = strings.ToLower(cfg.QueueName)
	if strings.ContainsAny(cfg.QueueName, "{}") {
		return nil, bc.Errorf("queueName", "use a literal name or %setting%", "%q: a trigger's queue name cannot use {…} expressions", cfg.QueueName)
	}
	if err := ValidQueueName(cfg.QueueName); err != nil {
		return nil, bc.Errorf("queueName", "", "%w", err)
	}
	if bc.Spec.Many() {
		return nil, bc.Errorf("cardinality", `remove "cardinality": "many"`, "queueTrigger delivers one message per invocation")
	}
	hopts, err := optionsFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	opts, err := hopts.listenerOptions(bc)
	if err != nil {
		return nil, err
	}
	svc, err := bindingServiceClient(ctx, bc)
	if err != nil {
		return nil, err
	}
	if opts.Hub, err = HubFor(ctx, bc.Host); err != nil {
		return nil, err
	}
	t := &trigger{fn: bc.Function, queue: cfg.QueueName, client: svc.NewQueueClient(cfg.QueueName), opts: opts}
	if p := PoisonQueueName(cfg.QueueName); p != "" {
		t.poison = svc.NewQueueClient(p)
	}
	t.opts.Logger = bc.Host.Logger.With("function", bc.Function, "trigger", "queueTrigger")
	switch pt := bc.Param; {
	case pt == messagePtrType:
		t.kind = paramMessagePtr
	case pt == messageType:
		t.kind = paramMessage
	case pt != nil && pt.Kind() == reflect.String:
		t.text = true
	}
	return t, nil
}

// Run implements driver.Trigger.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	l := NewListener(t.client, t.poison, t.opts, func(ctx context.Context, m *Message) driver.Result {
		if t.text && !utf8.Valid(m.Body) {
			// As the real binding (CloudQueueMessage.AsString decodes strictly), a message that
			// is not UTF-8 text does not bind to a string: the attempt fails (and the message
			// reaches the poison queue after maxDequeueCount) instead of arriving mangled.
			err := textBindError(m.ID, m.Body)
			t.opts.Logger.Warn("function not invoked: the message does not bind", "error", err)
			return driver.Result{Status: driver.Failed, Err: err}
		}
		ev := &driver.Event{ID: m.ID, Payload: m.Body, Metadata: &Metadata{Message: m}}
		switch t.kind {
		case paramMessagePtr:
			ev.Data = m
		case paramMessage:
			ev.Data = *m
		default:
			ev.Data = m.Body
		}
		return exec.Execute(ctx, ev)
	})
	return l.Run(ctx)
}

var _ driver.Scaler = (*trigger)(nil)

// Scale implements driver.Scaler (reference §5.6, target-based scaling): the backlog is the
// queue's approximate message count, and one instance is sized for batchSize messages (16 by
// default). A queue that does not exist yet has no backlog.
func (t *trigger) Scale(ctx context.Context) (driver.ScaleMetrics, error) {
	m := driver.ScaleMetrics{TargetPerInstance: int64(t.opts.withDefaults().BatchSize)}
	resp, err := t.client.GetProperties(ctx, nil)
	if queueerror.HasCode(err, queueerror.QueueNotFound) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("queue %s: approximate message count: %w", t.queue, err)
	}
	if resp.ApproximateMessagesCount != nil {
		m.Backlog = int64(*resp.ApproximateMessagesCount)
	}
	return m, nil
}

// textBindError is the failure of a message that is not UTF-8 text bound to a string, with the
// text of .NET's strict decoder (QueueTriggerTests
// .QueueTrigger_IfBoundToStringAndMessageIsNotUtf8ByteArray_DoesNotBind).
func textBindError(id string, body []byte) error {
	i := 0
	for i < len(body) {
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	b := byte(0)
	if i < len(body) {
		b = body[i]
	}
	return fmt.Errorf("queue message %s does not bind to a string parameter: Unable to translate bytes [%02X] at index %d from specified code page to Unicode: take []byte or *queue.Message to read binary messages", id, b, i)
}
