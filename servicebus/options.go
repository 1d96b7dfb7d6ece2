package servicebus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension/driver"
)

// Defaults of host.json `extensions.serviceBus` (reference §3.5, ServiceBusOptions).
const (
	DefaultMaxAutoLockRenewalDuration   = 5 * time.Minute
	DefaultMaxConcurrentCallsPerCPU     = 16
	DefaultMaxConcurrentSessions        = 8
	DefaultMaxConcurrentCallsPerSession = 1
	DefaultMaxMessageBatchSize          = 1000
	DefaultMinMessageBatchSize          = 1
	DefaultMaxBatchWaitTime             = 30 * time.Second
	maxBatchWaitTimeLimit               = 150 * time.Second // 2.5 min
	DefaultTryTimeout                   = 60 * time.Second
	DefaultRetryDelay                   = 800 * time.Millisecond
	DefaultMaxRetryDelay                = 60 * time.Second
	DefaultMaxRetries                   = 3
	// maxReceive is the most messages one azservicebus ReceiveMessages call may ask for (its
	// "maxMessages cannot exceed 5000"): the bound of every count option.
	maxReceive = 5000
)

// RetryOptions is host.json `extensions.serviceBus.clientRetryOptions` (the .NET SDK's
// ServiceBusRetryOptions), mapped onto azservicebus.RetryOptions by SDK.
type RetryOptions struct {
	// Mode is "exponential" (default) or "fixed".
	Mode string `binding:"mode"`
	// TryTimeout bounds one service operation (default 60 s): settlement, lock renewal, session
	// acceptance and, unless SessionIdleTimeout is set, the wait for a session's next message.
	TryTimeout time.Duration `binding:"tryTimeout"`
	// Delay is the first back-off (default 0.8 s); MaxDelay caps it (default 60 s).
	Delay    time.Duration `binding:"delay"`
	MaxDelay time.Duration `binding:"maxDelay"`
	// MaxRetries is the number of retries of a failed operation (default 3); -1 = none.
	MaxRetries int `binding:"maxRetries"`

	set map[string]bool
}

// SDK returns the azservicebus retry options: exponential back-off from Delay capped at
// MaxDelay, MaxRetries retries; "fixed" waits Delay every time.
func (r RetryOptions) SDK() azservicebus.RetryOptions {
	r = r.withDefaults()
	o := azservicebus.RetryOptions{MaxRetries: int32(r.MaxRetries), RetryDelay: r.Delay, MaxRetryDelay: r.MaxDelay}
	if strings.EqualFold(r.Mode, "fixed") {
		o.MaxRetryDelay = r.Delay
	}
	if r.MaxRetries == 0 && r.set["maxRetries"] {
		o.MaxRetries = -1 // the SDK reads 0 as "default"; explicit 0 means one try
	}
	return o
}

func (r RetryOptions) withDefaults() RetryOptions {
	if r.Mode == "" {
		r.Mode = "exponential"
	}
	if r.TryTimeout <= 0 {
		r.TryTimeout = DefaultTryTimeout
	}
	if r.Delay <= 0 && !r.set["delay"] {
		r.Delay = DefaultRetryDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultMaxRetryDelay
	}
	if r.MaxRetries == 0 && !r.set["maxRetries"] {
		r.MaxRetries = DefaultMaxRetries
	}
	return r
}

// Options is host.json `extensions.serviceBus`. The zero value is the Functions default; every
// field is read once per binding and shared by the trigger and the output.
type Options struct {
	// PrefetchCount: messages received ahead of free handler slots (default 0). The Go SDK has
	// no prefetch buffer of its own: the trigger asks for up to PrefetchCount more messages than
	// it has free slots and holds them, their locks running, until a slot frees.
	PrefetchCount int `binding:"prefetchCount"`
	// AutoCompleteMessages completes a message whose invocation succeeded (default true); a
	// binding's autoCompleteMessages overrides it.
	AutoCompleteMessages *bool `binding:"-"`
	// MaxAutoLockRenewalDuration: how long the lock of a message being handled is renewed, single
	// dispatch only (default 5 min; negative = without limit, as "-00:00:00.0010000"; 0 after an
	// explicit "00:00:00" = no renewal).
	MaxAutoLockRenewalDuration time.Duration `binding:"maxAutoLockRenewalDuration"`
	// MaxConcurrentCalls: messages handled at once per function, single dispatch without sessions
	// (default 16 × processors).
	MaxConcurrentCalls int `binding:"maxConcurrentCalls"`
	// MaxConcurrentSessions: sessions held at once (default 8).
	MaxConcurrentSessions int `binding:"maxConcurrentSessions"`
	// MaxConcurrentCallsPerSession: messages of one session handled at once (default 1: FIFO).
	MaxConcurrentCallsPerSession int `binding:"maxConcurrentCallsPerSession"`
	// MaxMessageBatchSize: most messages per batch invocation (default 1000).
	MaxMessageBatchSize int `binding:"maxMessageBatchSize"`
	// MinMessageBatchSize: a batch waits for this many messages (default 1), up to MaxBatchWaitTime.
	MinMessageBatchSize int `binding:"minMessageBatchSize"`
	// MaxBatchWaitTime: how long a batch below MinMessageBatchSize waits (default 30 s, at most 2.5 min).
	MaxBatchWaitTime time.Duration `binding:"maxBatchWaitTime"`
	// SessionIdleTimeout: a session is released after this long without a message
	// (default clientRetryOptions.tryTimeout).
	SessionIdleTimeout time.Duration `binding:"sessionIdleTimeout"`
	// TransportType: "amqpTcp" (the only one supported).
	TransportType string `binding:"transportType"`
	// EnableCrossEntityTransactions is accepted for compatibility; it must stay false.
	EnableCrossEntityTransactions bool `binding:"enableCrossEntityTransactions"`
	// ClientRetryOptions are the SDK's retry options.
	ClientRetryOptions RetryOptions `binding:"-"`
	// Concurrency is the processor count for the MaxConcurrentCalls default (default GOMAXPROCS).
	Concurrency int `binding:"-"`

	set map[string]bool // host.json keys present
}

// section is host.json extensions.serviceBus, decoded once per host: driver.Section keeps one
// *section per host, and its first use fills it under once from that host's section (every
// binding of the extension gets the same Config).
type section struct {
	once sync.Once
	// opts and err: every key, as the trigger reads them.
	opts Options
	err  error
	// client and clientErr: clientRetryOptions and transportType only, as the output reads them
	// (a bad trigger setting does not fail an output).
	client    Options
	clientErr error
}

// hostSection returns the host's decoded extensions.serviceBus section.
func hostSection(ctx context.Context, bc *driver.BindContext) (*section, error) {
	s, err := driver.Section[section](ctx, bc)
	if err != nil {
		return nil, err
	}
	s.once.Do(func() {
		s.opts, s.err = hostJSONOptions(bc.Config, bc.Host.Concurrency)
		s.client, s.clientErr = hostJSONOptions(onlyKeys(bc.Config, "clientRetryOptions", "transportType"), bc.Host.Concurrency)
	})
	return s, nil
}

func onlyKeys(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		for _, want := range keys {
			if strings.EqualFold(k, want) {
				out[k] = v
			}
		}
	}
	return out
}

// hostJSONOptions decodes host.json extensions.serviceBus (config) for a host planning for
// concurrency processors; errors name the field.
func hostJSONOptions(config map[string]any, concurrency int) (Options, error) {
	var o Options
	if err := driver.DecodeMap(config, &o, "host.json: extensions.serviceBus"); err != nil {
		return Options{}, err
	}
	o.set = map[string]bool{}
	for k, v := range config {
		if v != nil && v != "" {
			o.set[strings.ToLower(k)] = true
		}
	}
	if v, ok := lookupFold(config, "autoCompleteMessages"); ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return Options{}, &driver.ConfigError{Where: "host.json", Field: "extensions.serviceBus.autoCompleteMessages", Problem: "must be true or false", Fix: "use true or false"}
		}
		o.AutoCompleteMessages = &b
	}
	if v, ok := lookupFold(config, "clientRetryOptions"); ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return Options{}, &driver.ConfigError{Where: "host.json", Field: "extensions.serviceBus.clientRetryOptions", Problem: "must be an object", Fix: "use {\"mode\": \"exponential\", \"tryTimeout\": \"00:01:00\", …}"}
		}
		if err := driver.DecodeMap(m, &o.ClientRetryOptions, "host.json: extensions.serviceBus.clientRetryOptions"); err != nil {
			return Options{}, err
		}
		o.ClientRetryOptions.set = map[string]bool{}
		for k := range m {
			for _, f := range []string{"mode", "tryTimeout", "delay", "maxDelay", "maxRetries"} {
				if strings.EqualFold(k, f) {
					o.ClientRetryOptions.set[f] = true
				}
			}
		}
	}
	o.Concurrency = concurrency
	if err := o.Validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}

func lookupFold(m map[string]any, key string) (any, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func (o *Options) isSet(key string) bool { return o.set[strings.ToLower(key)] }

// Validate reports options out of range: one *driver.ConfigError per field (Where "host.json",
// Field "extensions.serviceBus.<key>"), joined.
func (o *Options) Validate() error {
	var errs []error
	bad := func(field, fix, format string, args ...any) {
		errs = append(errs, &driver.ConfigError{Where: "host.json", Field: "extensions.serviceBus." + field, Problem: fmt.Sprintf(format, args...), Fix: fix})
	}
	// count checks a count option: 0 only when absent (the default), at most maxReceive.
	count := func(field string, v int) {
		switch {
		case v < 0 || v == 0 && o.isSet(field) || v > maxReceive:
			bad(field, fmt.Sprintf("use a whole number from 1 to %d", maxReceive), "%d is out of range (1 to %d: the SDK receives at most %d messages at once)", v, maxReceive, maxReceive)
		}
	}
	if o.PrefetchCount < 0 || o.PrefetchCount > maxReceive {
		bad("prefetchCount", fmt.Sprintf("use a whole number from 0 to %d", maxReceive), "%d is out of range (0 to %d)", o.PrefetchCount, maxReceive)
	}
	count("maxConcurrentCalls", o.MaxConcurrentCalls)
	count("maxConcurrentSessions", o.MaxConcurrentSessions)
	count("maxConcurrentCallsPerSession", o.MaxConcurrentCallsPerSession)
	count("maxMessageBatchSize", o.MaxMessageBatchSize)
	count("minMessageBatchSize", o.MinMessageBatchSize)
	if o.MaxConcurrentCalls > 0 && o.PrefetchCount > 0 && o.MaxConcurrentCalls+o.PrefetchCount > maxReceive && o.MaxConcurrentCalls <= maxReceive && o.PrefetchCount <= maxReceive {
		bad("prefetchCount", fmt.Sprintf("keep maxConcurrentCalls + prefetchCount at most %d", maxReceive), "%d with maxConcurrentCalls %d asks for more than %d messages at once", o.PrefetchCount, o.MaxConcurrentCalls, maxReceive)
	}
	if o.MinMessageBatchSize > 0 && o.MaxMessageBatchSize > 0 && o.MinMessageBatchSize > o.MaxMessageBatchSize {
		bad("minMessageBatchSize", "", "%d is above maxMessageBatchSize %d", o.MinMessageBatchSize, o.MaxMessageBatchSize)
	}
	if o.MaxBatchWaitTime < 0 || o.MaxBatchWaitTime > maxBatchWaitTimeLimit {
		bad("maxBatchWaitTime", "use up to 00:02:30", "%s is out of range", o.MaxBatchWaitTime)
	}
	if o.SessionIdleTimeout < 0 {
		bad("sessionIdleTimeout", "", "%s is negative", o.SessionIdleTimeout)
	}
	if o.TransportType != "" && !strings.EqualFold(o.TransportType, "amqpTcp") {
		bad("transportType", "use \"amqpTcp\" (AMQP over WebSockets is not implemented)", "%q is not supported", o.TransportType)
	}
	if o.EnableCrossEntityTransactions {
		bad("enableCrossEntityTransactions", "remove it or set it to false", "transactions are not supported")
	}
	r := o.ClientRetryOptions
	if r.Mode != "" && !strings.EqualFold(r.Mode, "exponential") && !strings.EqualFold(r.Mode, "fixed") {
		bad("clientRetryOptions.mode", "use \"exponential\" or \"fixed\"", "%q is not supported", r.Mode)
	}
	if r.TryTimeout < 0 || r.Delay < 0 || r.MaxDelay < 0 {
		bad("clientRetryOptions", "", "tryTimeout, delay and maxDelay must not be negative")
	}
	if r.MaxRetries < -1 {
		bad("clientRetryOptions.maxRetries", "use -1 or more", "%d is out of range", r.MaxRetries)
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero value replaced by its Functions default.
func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.AutoCompleteMessages == nil {
		t := true
		o.AutoCompleteMessages = &t
	}
	if o.MaxAutoLockRenewalDuration == 0 && !o.isSet("maxAutoLockRenewalDuration") {
		o.MaxAutoLockRenewalDuration = DefaultMaxAutoLockRenewalDuration
	}
	if o.MaxConcurrentCalls <= 0 {
		o.MaxConcurrentCalls = DefaultMaxConcurrentCallsPerCPU * o.Concurrency
	}
	if o.MaxConcurrentSessions <= 0 {
		o.MaxConcurrentSessions = DefaultMaxConcurrentSessions
	}
	if o.MaxConcurrentCallsPerSession <= 0 {
		o.MaxConcurrentCallsPerSession = DefaultMaxConcurrentCallsPerSession
	}
	if o.MaxMessageBatchSize <= 0 {
		o.MaxMessageBatchSize = DefaultMaxMessageBatchSize
	}
	if o.MinMessageBatchSize <= 0 {
		o.MinMessageBatchSize = DefaultMinMessageBatchSize
	}
	o.MinMessageBatchSize = min(o.MinMessageBatchSize, o.MaxMessageBatchSize)
	if o.MaxBatchWaitTime <= 0 {
		o.MaxBatchWaitTime = DefaultMaxBatchWaitTime
	}
	o.ClientRetryOptions = o.ClientRetryOptions.withDefaults()
	if o.SessionIdleTimeout <= 0 {
		o.SessionIdleTimeout = o.ClientRetryOptions.TryTimeout
	}
	return o
}
