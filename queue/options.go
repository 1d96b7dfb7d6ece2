package queue

import (
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
}

type bindingConfig struct {
	QueueName string `binding:"queueName,required"`
}

// receiveVisibility overrides DefaultReceiveVisibility for tests (nanoseconds; 0 = default).
var receiveVisibility atomic.Int64

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

func present(m map[string]any, key string) bool {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v != nil && v != ""
		}
	}
	return false
}
