package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/azbind/azbind/extension/driver"
)

// hostOptions is the host.json `extensions.queues` section.
type hostOptions struct {
	BatchSize          int           `binding:"batchSize"`
	NewBatchThreshold  int           `binding:"newBatchThreshold"`
	MaxPollingInterval time.Duration `binding:"maxPollingInterval"`
	VisibilityTimeout  time.Duration `binding:"visibilityTimeout"`
	MaxDequeueCount    int           `binding:"maxDequeueCount"`
	MessageEncoding    string        `binding:"messageEncoding"`
	// Per-message back-off on failure (not in Functions; azure-webjobs-sdk#1040).
	FailureBackoff    bool          `binding:"failureBackoff"`
	MaxFailureBackoff time.Duration `binding:"maxFailureBackoff"`
}

// receiveVisibility overrides DefaultReceiveVisibility for tests (nanoseconds; 0 = default).
var receiveVisibility atomic.Int64

func present(m map[string]any, key string) bool {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v != nil && v != ""
		}
	}
	return false
}

// listenerOptions reads host.json extensions.queues into ListenerOptions; errors name the field.
func listenerOptions(bc *driver.BindContext) (ListenerOptions, Encoding, error) {
	var h hostOptions
	if err := bc.DecodeConfig(&h); err != nil {
		return ListenerOptions{}, "", err
	}
	enc, err := parseEncoding(h.MessageEncoding)
	if err != nil {
		return ListenerOptions{}, "", fmt.Errorf("host.json: extensions.queues.%v: %w", err, driver.ErrInvalidConfig)
	}
	o := ListenerOptions{
		BatchSize:          h.BatchSize,
		MaxPollingInterval: h.MaxPollingInterval,
		VisibilityTimeout:  h.VisibilityTimeout,
		MaxDequeueCount:    h.MaxDequeueCount,
		Encoding:           enc,
		FailureBackoff:     h.FailureBackoff,
		MaxFailureBackoff:  h.MaxFailureBackoff,
		ReceiveVisibility:  time.Duration(receiveVisibility.Load()),
	}
	var errs []error
	if present(bc.Config, "batchSize") && h.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batchSize: %d is out of range: use 1 to %d", h.BatchSize, MaxBatchSize))
	}
	if present(bc.Config, "maxDequeueCount") && h.MaxDequeueCount < 1 {
		errs = append(errs, fmt.Errorf("maxDequeueCount: %d is out of range: use 1 or more", h.MaxDequeueCount))
	}
	if present(bc.Config, "maxPollingInterval") && h.MaxPollingInterval <= 0 {
		errs = append(errs, fmt.Errorf("maxPollingInterval: %s is below the minimum of 100 ms", h.MaxPollingInterval))
	}
	if present(bc.Config, "newBatchThreshold") {
		n := h.NewBatchThreshold
		o.NewBatchThreshold = &n
	}
	if err := o.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		var lines []string
		for _, line := range strings.Split(err.Error(), "\n") {
			lines = append(lines, "host.json: extensions.queues."+line)
		}
		return ListenerOptions{}, "", fmt.Errorf("%s: %w", strings.Join(lines, "\n"), driver.ErrInvalidConfig)
	}
	if bc.Host != nil {
		o.Concurrency = bc.Host.Concurrency
	}
	return o, enc, nil
}

type bindingConfig struct {
	QueueName string `binding:"queueName,required"`
}

// trigger is the queueTrigger binding.
type trigger struct {
	fn     string
	queue  string
	client *azqueue.QueueClient
	poison *azqueue.QueueClient
	opts   ListenerOptions
	kind   paramKind
	// payload: JSON payload properties are binding data (handler takes a struct or map).
	payload bool
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
	if strings.ContainsAny(cfg.QueueName, "{}") {
		return nil, fmt.Errorf("%s: queueName: %q: a trigger's queue name cannot use {…} expressions: use a literal name or %%setting%%: %w", bc.Spec.Where, cfg.QueueName, driver.ErrInvalidConfig)
	}
	if err := ValidQueueName(cfg.QueueName); err != nil {
		return nil, fmt.Errorf("%s: queueName: %w: %w", bc.Spec.Where, err, driver.ErrInvalidConfig)
	}
	if bc.Spec.Many() {
		return nil, fmt.Errorf("%s: cardinality: queueTrigger delivers one message per invocation: remove \"cardinality\": \"many\": %w", bc.Spec.Where, driver.ErrInvalidConfig)
	}
	opts, _, err := listenerOptions(bc)
	if err != nil {
		return nil, err
	}
	svc, err := bindingServiceClient(ctx, bc)
	if err != nil {
		return nil, err
	}
	t := &trigger{fn: bc.Function, queue: cfg.QueueName, client: svc.NewQueueClient(cfg.QueueName), opts: opts}
	if p := PoisonQueueName(cfg.QueueName); p != "" {
		t.poison = svc.NewQueueClient(p)
	}
	logger := loggerOf(bc)
	t.opts.Logger = logger.With("function", bc.Function, "trigger", "queueTrigger")
	switch pt := bc.Param; {
	case pt == messagePtrType:
		t.kind = paramMessagePtr
	case pt == messageType:
		t.kind = paramMessage
	}
	return t, nil
}

// Run implements driver.Trigger.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	l := NewListener(t.client, t.poison, t.opts, func(ctx context.Context, m *Message) driver.Result {
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

func loggerOf(bc *driver.BindContext) *slog.Logger {
	if bc.Host != nil && bc.Host.Logger != nil {
		return bc.Host.Logger
	}
	return slog.Default()
}
