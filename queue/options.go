package queue

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// hostOptions is the host.json `extensions.queues` section, decoded once per host
// (driver.Section) and shared by the trigger and the output. Defaults are Functions'
// (QueuesOptions), so a value given out of range is an error there as here. The trigger needs all
// of it, the output only messageEncoding: Validate fails every binding only for a bad
// messageEncoding, and keeps the listener's errors (batchSize…) for the trigger, so a bad
// listener setting fails triggers, not outputs.
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

	enc         Encoding        // set by Validate
	listener    ListenerOptions // set by Validate, without Concurrency, Logger and Hub
	listenerErr error           // the trigger's errors
}

// computedThreshold is newBatchThreshold's default, as in Functions: BatchSize/2 × Concurrency.
const computedThreshold = -1

type bindingConfig struct {
	QueueName string `binding:"queueName,required"`
}

// receiveVisibility overrides DefaultReceiveVisibility for tests (nanoseconds; 0 = default).
var receiveVisibility atomic.Int64

// Defaults sets Functions' defaults (driver.Section calls it before decoding).
func (h *hostOptions) Defaults() {
	h.BatchSize = DefaultBatchSize
	h.NewBatchThreshold = computedThreshold
	h.MaxPollingInterval = DefaultMaxPollingInterval
	h.MaxDequeueCount = DefaultMaxDequeueCount
	h.ReceiveVisibility = time.Duration(receiveVisibility.Load())
}

// Validate implements driver.Validator: it fails every binding for a bad messageEncoding, and
// keeps the listener's errors for the trigger (listenerOptions).
func (h *hostOptions) Validate() error {
	var err error
	if h.enc, err = parseEncoding(h.MessageEncoding); err != nil {
		return hostField("messageEncoding", fmt.Sprintf("%q is not supported", h.MessageEncoding), `use "base64" or "none"`)
	}
	l := ListenerOptions{
		BatchSize:          h.BatchSize,
		MaxPollingInterval: h.MaxPollingInterval,
		VisibilityTimeout:  h.VisibilityTimeout,
		MaxDequeueCount:    h.MaxDequeueCount,
		Encoding:           h.enc,
		FailureBackoff:     h.FailureBackoff,
		MaxFailureBackoff:  h.MaxFailureBackoff,
		ReceiveVisibility:  h.ReceiveVisibility,
	}
	var errs []error
	// Zero values given explicitly (the defaults are not zero); ListenerOptions.Validate
	// reports the rest of each range.
	if h.BatchSize == 0 {
		errs = append(errs, hostField("batchSize", "0 is out of range", fmt.Sprintf("use 1 to %d", MaxBatchSize)))
	}
	if h.MaxDequeueCount == 0 {
		errs = append(errs, hostField("maxDequeueCount", "0 is out of range", "use 1 or more"))
	}
	if h.MaxPollingInterval == 0 {
		errs = append(errs, hostField("maxPollingInterval", "0s is below the minimum of 100 ms", ""))
	}
	if h.NewBatchThreshold != computedThreshold {
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
	h.listener, h.listenerErr = l, errors.Join(errs...)
	return nil
}

// optionsFor returns the host's decoded queue options.
func optionsFor(ctx context.Context, bc *driver.BindContext) (*hostOptions, error) {
	return driver.Section[hostOptions](ctx, bc)
}

// listenerOptions returns the trigger's options; errors name the host.json field.
func (h *hostOptions) listenerOptions(bc *driver.BindContext) (ListenerOptions, error) {
	if h.listenerErr != nil {
		return ListenerOptions{}, h.listenerErr
	}
	l := h.listener
	l.Concurrency = bc.Host.Concurrency
	return l, nil
}

// hostField is a *driver.ConfigError about host.json extensions.queues.<field>.
func hostField(field, problem, fix string) error {
	return &driver.ConfigError{Where: "host.json", Field: "extensions.queues." + field, Problem: problem, Fix: fix}
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
