package memconn

import (
	"context"
	"fmt"

	"github.com/azbind/azbind/extension/driver"
)

// Options is the host.json "extensions.memory" section, decoded once per host (driver.Section)
// and shared by every binding. The zero value means the defaults.
type Options struct {
	MaxDeliveries int `binding:"maxDeliveries"` // queue: dead-letter after this many failed deliveries (0: never)
	Concurrency   int `binding:"concurrency"`   // queue: invocations in flight per trigger (default 16)
	BatchSize     int `binding:"batchSize"`     // items per event with cardinality many (default 8)
}

// concurrency is Concurrency with its default.
func (o *Options) concurrency() int {
	if o.Concurrency == 0 {
		return 16
	}
	return o.Concurrency
}

// batchSize is BatchSize with its default.
func (o *Options) batchSize() int {
	if o.BatchSize == 0 {
		return 8
	}
	return o.BatchSize
}

// Validate implements driver.Validator; errors name the host.json field.
func (o *Options) Validate() error {
	field := func(name, problem, fix string) error {
		return &driver.ConfigError{Where: "host.json", Field: "extensions.memory." + name, Problem: problem, Fix: fix}
	}
	switch {
	case o.MaxDeliveries < 0:
		return field("maxDeliveries", fmt.Sprintf("%d is negative", o.MaxDeliveries), "use 0 (never dead-letter) or more")
	case o.Concurrency < 0:
		return field("concurrency", fmt.Sprintf("%d is negative", o.Concurrency), "use 1 or more, or 0 for the default (16)")
	case o.BatchSize < 0:
		return field("batchSize", fmt.Sprintf("%d is negative", o.BatchSize), "use 1 or more, or 0 for the default (8)")
	}
	return nil
}

// optionsFor returns the host's decoded section.
func optionsFor(ctx context.Context, bc *driver.BindContext) (*Options, error) {
	return driver.Section[Options](ctx, bc)
}
