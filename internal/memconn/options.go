package memconn

import "github.com/azbind/azbind/extension/driver"

// Options is the host.json "extensions.memory" section. The zero value means the defaults.
type Options struct {
	MaxDeliveries int `binding:"maxDeliveries"` // queue: dead-letter after this many failed deliveries (0: never)
	Concurrency   int `binding:"concurrency"`   // queue: invocations in flight per trigger (default 16)
	BatchSize     int `binding:"batchSize"`     // items per event with cardinality many (default 8)
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 8
	}
	return o
}

// options decodes the host.json section for a binding.
func options(bc *driver.BindContext) (Options, error) {
	var opts Options
	if err := bc.DecodeConfig(&opts); err != nil {
		return Options{}, err
	}
	return opts.withDefaults(), nil
}
