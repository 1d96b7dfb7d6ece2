package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

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
	// How long a received message stays invisible, renewed while the handler runs (not in
	// Functions, which uses 10 minutes; azbind's default is 30 s).
	ReceiveVisibility time.Duration `binding:"receiveVisibility"`
}

type bindingConfig struct {
	QueueName string `binding:"queueName,required"`
}

// receiveVisibility overrides DefaultReceiveVisibility for tests (nanoseconds; 0 = default).
var receiveVisibility atomic.Int64

// options is the host.json `extensions.queues` section, decoded once per host (a driver.Shared
// value) and shared by the trigger and the output: the trigger needs all of it, the output only
// messageEncoding, so a bad listener setting (batchSize…) fails triggers, not outputs.
type options struct {
	listener    ListenerOptions // Concurrency set; Logger and Hub are the trigger's
	listenerErr error
	enc         Encoding
	encErr      error
}

type optionsKey struct{}

// optionsFor returns the host's decoded queue options.
func optionsFor(ctx context.Context, bc *driver.BindContext) (*options, error) {
	if bc.Host == nil {
		return decodeOptions(bc), nil
	}
	return driver.Shared(ctx, bc.Host, optionsKey{}, func(context.Context) (*options, error) { return decodeOptions(bc), nil })
}

// listenerOptions returns the trigger's options; errors name the host.json field.
func (o *options) listenerOptions() (ListenerOptions, error) {
	if err := errors.Join(o.encErr, o.listenerErr); err != nil {
		return ListenerOptions{}, err
	}
	return o.listener, nil
}

// encoding returns the output's message encoding.
func (o *options) encoding() (Encoding, error) { return o.enc, o.encErr }

// hostField is a *driver.ConfigError about host.json extensions.queues.<field>.
func hostField(field, problem, fix string) error {
	return &driver.ConfigError{Where: "host.json", Field: "extensions.queues." + field, Problem: problem, Fix: fix}
}

func decodeOptions(bc *driver.BindContext) *options {
	o := &options{}
	var e struct {
		MessageEncoding string `binding:"messageEncoding"`
	}
	if err := bc.DecodeConfig(&e); err != nil {
		o.encErr = err
	} else if o.enc, err = parseEncoding(e.MessageEncoding); err != nil {
		o.encErr = hostField("messageEncoding", fmt.Sprintf("%q is not supported", e.MessageEncoding), `use "base64" or "none"`)
	}
	var h hostOptions
	if err := bc.DecodeConfig(&h); err != nil {
		o.listenerErr = err
		return o
	}
	l := ListenerOptions{
		BatchSize:          h.BatchSize,
		MaxPollingInterval: h.MaxPollingInterval,
		VisibilityTimeout:  h.VisibilityTimeout,
		MaxDequeueCount:    h.MaxDequeueCount,
		Encoding:           o.enc,
		FailureBackoff:     h.FailureBackoff,
		MaxFailureBackoff:  h.MaxFailureBackoff,
		ReceiveVisibility:  time.Duration(receiveVisibility.Load()),
	}
	if h.ReceiveVisibility != 0 {
		l.ReceiveVisibility = h.ReceiveVisibility
	}
	var errs []error
	if present(bc.Config, "batchSize") && h.BatchSize < 1 {
		errs = append(errs, hostField("batchSize", fmt.Sprintf("%d is out of range", h.BatchSize), fmt.Sprintf("use 1 to %d", MaxBatchSize)))
	}
	if present(bc.Config, "maxDequeueCount") && h.MaxDequeueCount < 1 {
		errs = append(errs, hostField("maxDequeueCount", fmt.Sprintf("%d is out of range", h.MaxDequeueCount), "use 1 or more"))
	}
	if present(bc.Config, "maxPollingInterval") && h.MaxPollingInterval <= 0 {
		errs = append(errs, hostField("maxPollingInterval", fmt.Sprintf("%s is below the minimum of 100 ms", h.MaxPollingInterval), ""))
	}
	if present(bc.Config, "newBatchThreshold") {
		n := h.NewBatchThreshold
		l.NewBatchThreshold = &n
	}
	for _, err := range unjoin(l.Validate()) {
		var ce *driver.ConfigError
		if errors.As(err, &ce) && ce.Field != "" {
			err = hostField(ce.Field, ce.Problem, ce.Fix)
		}
		errs = append(errs, err)
	}
	if bc.Host != nil {
		l.Concurrency = bc.Host.Concurrency
	}
	o.listener, o.listenerErr = l, errors.Join(errs...)
	return o
}

// unjoin returns the errors joined in err (err itself when it is not a join; none for nil).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func present(m map[string]any, key string) bool {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v != nil && v != ""
		}
	}
	return false
}
