package eventhubs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/extension/driver"
)

// Options is the host.json section extensions.eventHubs (reference §3.6), decoded once and shared
// by the trigger and the output. The zero value of every field means the Functions default.
type Options struct {
	MaxEventBatchSize        int           `binding:"maxEventBatchSize"`        // 100
	MinEventBatchSize        int           `binding:"minEventBatchSize"`        // 1
	MaxWaitTime              time.Duration `binding:"maxWaitTime"`              // 1 min, used only when MinEventBatchSize > 1
	BatchCheckpointFrequency int           `binding:"batchCheckpointFrequency"` // 1
	PrefetchCount            int           `binding:"prefetchCount"`            // 300; 0 given explicitly disables prefetch
	// PartitionOwnershipExpirationInterval (30 s) and LoadBalancingUpdateInterval (10 s) drive the
	// SDK Processor's load balancer.
	PartitionOwnershipExpirationInterval time.Duration `binding:"partitionOwnershipExpirationInterval"`
	LoadBalancingUpdateInterval          time.Duration `binding:"loadBalancingUpdateInterval"`
	// LoadBalancingStrategy is "greedy" (Functions' choice, the default) or "balanced" (not a
	// Functions key).
	LoadBalancingStrategy           string         `binding:"loadBalancingStrategy"`
	TargetUnprocessedEventThreshold int            `binding:"targetUnprocessedEventThreshold"`
	InitialOffsetOptions            map[string]any `binding:"initialOffsetOptions"`
	ClientRetryOptions              map[string]any `binding:"clientRetryOptions"`

	initial initialOffset
	retry   azeventhubs.RetryOptions
}

type initialOffset struct {
	Type            string `binding:"type"`
	EnqueuedTimeUTC string `binding:"enqueuedTimeUtc"`
	at              time.Time
}

type retryOptions struct {
	Mode           string        `binding:"mode"`
	TryTimeout     time.Duration `binding:"tryTimeout"`
	Delay          time.Duration `binding:"delay"`
	MaximumDelay   time.Duration `binding:"maximumDelay"`
	MaximumRetries int           `binding:"maximumRetries"`
}

const (
	defaultMaxBatch        = 100
	defaultMaxWait         = time.Minute
	defaultPrefetch        = 300
	defaultOwnershipExpiry = 30 * time.Second
	defaultLBInterval      = 10 * time.Second
	maxMaxWait             = 10 * time.Minute
	where                  = "host.json: extensions.eventHubs"
)

func hasKey(m map[string]any, key string) bool {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v != nil
		}
	}
	return false
}

// triggerOptions is the host's extensions.eventHubs section, decoded and validated once per host
// (driver.Section: Defaults marks every field unset, Validate applies the Functions defaults and
// checks what was given).
func triggerOptions(ctx context.Context, bc *driver.BindContext) (Options, error) {
	if bc.Host == nil {
		return decodeOptions(bc)
	}
	o, err := driver.Section[Options](ctx, bc)
	if err != nil {
		return Options{}, err
	}
	return *o, nil
}

// Unset markers: a field still holding one after decoding was not given.
const (
	unsetInt = math.MinInt32
	unsetDur = time.Duration(math.MinInt64)
)

// Defaults implements driver.Section's defaults hook: every defaulted field starts unset, so that
// Validate tells a value given as 0 from an absent one.
func (o *Options) Defaults() {
	o.MaxEventBatchSize, o.MinEventBatchSize, o.BatchCheckpointFrequency, o.PrefetchCount, o.TargetUnprocessedEventThreshold =
		unsetInt, unsetInt, unsetInt, unsetInt, unsetInt
	o.MaxWaitTime, o.PartitionOwnershipExpirationInterval, o.LoadBalancingUpdateInterval = unsetDur, unsetDur, unsetDur
}

// Validate implements driver.Validator: it applies the defaults of the fields not given and
// checks the others; errors are *driver.ConfigError naming the field.
func (o *Options) Validate() error { return o.finish() }

// outputOptions decodes only what the output uses (clientRetryOptions), so that a bad trigger
// setting does not fail outputs.
func outputOptions(bc *driver.BindContext) (azeventhubs.RetryOptions, error) {
	var raw struct {
		ClientRetryOptions map[string]any `binding:"clientRetryOptions"`
	}
	if err := driver.DecodeMap(bc.Config, &raw, where); err != nil {
		return azeventhubs.RetryOptions{}, err
	}
	o := Options{ClientRetryOptions: raw.ClientRetryOptions}
	if err := o.decodeRetry(); err != nil {
		return azeventhubs.RetryOptions{}, err
	}
	return o.retry, nil
}

// decodeOptions reads and validates host.json extensions.eventHubs outside a host (tests).
func decodeOptions(bc *driver.BindContext) (Options, error) {
	var o Options
	o.Defaults()
	if err := driver.DecodeMap(bc.Config, &o, where); err != nil {
		return Options{}, err
	}
	if err := o.finish(); err != nil {
		return Options{}, err
	}
	return o, nil
}

func cfgErr(field, problem, fix string) error {
	return &driver.ConfigError{Where: where, Field: field, Problem: problem, Fix: fix}
}

// finish applies defaults (to the fields still unset) and validates.
func (o *Options) finish() error {
	var errs []error
	if o.MaxEventBatchSize != unsetInt && o.MaxEventBatchSize < 1 {
		errs = append(errs, cfgErr("maxEventBatchSize", fmt.Sprintf("%d is out of range", o.MaxEventBatchSize), "use 1 or more"))
	}
	if o.MaxEventBatchSize <= 0 {
		o.MaxEventBatchSize = defaultMaxBatch
	}
	if o.MinEventBatchSize != unsetInt && (o.MinEventBatchSize < 1 || o.MinEventBatchSize > o.MaxEventBatchSize) {
		errs = append(errs, cfgErr("minEventBatchSize", fmt.Sprintf("%d is out of range", o.MinEventBatchSize), fmt.Sprintf("use 1 to maxEventBatchSize (%d)", o.MaxEventBatchSize)))
	}
	if o.MinEventBatchSize <= 0 {
		o.MinEventBatchSize = 1
	}
	if o.MaxWaitTime != unsetDur && (o.MaxWaitTime < 0 || o.MaxWaitTime > maxMaxWait) {
		errs = append(errs, cfgErr("maxWaitTime", fmt.Sprintf("%v is out of range", o.MaxWaitTime), "use 00:00:00 to 00:10:00"))
	}
	if o.MaxWaitTime == unsetDur {
		o.MaxWaitTime = defaultMaxWait
	}
	if o.BatchCheckpointFrequency != unsetInt && o.BatchCheckpointFrequency < 1 {
		errs = append(errs, cfgErr("batchCheckpointFrequency", fmt.Sprintf("%d is out of range", o.BatchCheckpointFrequency), "use 1 or more (1 checkpoints after every batch)"))
	}
	if o.BatchCheckpointFrequency <= 0 {
		o.BatchCheckpointFrequency = 1
	}
	if o.PrefetchCount != unsetInt && o.PrefetchCount < 0 {
		errs = append(errs, cfgErr("prefetchCount", fmt.Sprintf("%d is out of range", o.PrefetchCount), "use 0 (no prefetch) or more"))
	}
	if o.PrefetchCount == unsetInt {
		o.PrefetchCount = defaultPrefetch
	}
	if o.PartitionOwnershipExpirationInterval != unsetDur && o.PartitionOwnershipExpirationInterval <= 0 {
		errs = append(errs, cfgErr("partitionOwnershipExpirationInterval", "must be positive", "use a TimeSpan such as \"00:00:30\""))
	}
	if o.PartitionOwnershipExpirationInterval <= 0 {
		o.PartitionOwnershipExpirationInterval = defaultOwnershipExpiry
	}
	if o.LoadBalancingUpdateInterval != unsetDur && o.LoadBalancingUpdateInterval <= 0 {
		errs = append(errs, cfgErr("loadBalancingUpdateInterval", "must be positive", "use a TimeSpan such as \"00:00:10\""))
	}
	if o.LoadBalancingUpdateInterval <= 0 {
		o.LoadBalancingUpdateInterval = defaultLBInterval
	}
	switch strings.ToLower(o.LoadBalancingStrategy) {
	case "", "greedy":
		o.LoadBalancingStrategy = string(azeventhubs.ProcessorStrategyGreedy)
	case "balanced":
		o.LoadBalancingStrategy = string(azeventhubs.ProcessorStrategyBalanced)
	default:
		errs = append(errs, cfgErr("loadBalancingStrategy", fmt.Sprintf("unknown strategy %q", o.LoadBalancingStrategy), "use \"greedy\" or \"balanced\""))
	}
	if o.TargetUnprocessedEventThreshold != unsetInt && o.TargetUnprocessedEventThreshold < 1 {
		errs = append(errs, cfgErr("targetUnprocessedEventThreshold", fmt.Sprintf("%d is out of range", o.TargetUnprocessedEventThreshold), "use 1 or more, or remove it (maxEventBatchSize is then the target)"))
	}
	if o.TargetUnprocessedEventThreshold == unsetInt {
		o.TargetUnprocessedEventThreshold = 0
	}
	if err := o.decodeInitial(); err != nil {
		errs = append(errs, err)
	}
	if err := o.decodeRetry(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (o *Options) decodeInitial() error {
	if err := driver.DecodeMap(o.InitialOffsetOptions, &o.initial, where+".initialOffsetOptions"); err != nil {
		return err
	}
	switch strings.ToLower(o.initial.Type) {
	case "", "fromstart":
		o.initial.Type = "fromStart"
	case "fromend":
		o.initial.Type = "fromEnd"
	case "fromenqueuedtime":
		o.initial.Type = "fromEnqueuedTime"
		if o.initial.EnqueuedTimeUTC == "" {
			return cfgErr("initialOffsetOptions.enqueuedTimeUtc", "is required with type fromEnqueuedTime", "give a UTC time such as \"2026-01-31T12:00:00Z\"")
		}
		t, err := parseTime(o.initial.EnqueuedTimeUTC)
		if err != nil {
			return &driver.ConfigError{Where: where, Field: "initialOffsetOptions.enqueuedTimeUtc", Err: err, Fix: "give a UTC time such as \"2026-01-31T12:00:00Z\""}
		}
		o.initial.at = t
	default:
		return cfgErr("initialOffsetOptions.type", fmt.Sprintf("unknown type %q", o.initial.Type), "use fromStart, fromEnd or fromEnqueuedTime")
	}
	return nil
}

// parseTime reads enqueuedTimeUtc as the extension does (DateTimeOffset.Parse, invariant
// culture): an ISO 8601 date and time with "T" or a space between them, minutes with or without
// seconds and fractions, an offset ("Z", "+02:00", "+0200") or none (then UTC: the time is
// "Utc", and Functions hosts run in UTC), a date alone (midnight), or the invariant culture's
// M/d/yyyy with an optional h:mm[:ss] [AM|PM].
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	dates := []string{"2006-01-02", "2006-1-2", "1/2/2006"}
	times := []string{"15:04:05", "15:04", "3:04:05 PM", "3:04 PM"}
	zones := []string{"Z07:00", "Z0700", " Z07:00", ""}
	for _, d := range dates {
		if t, err := time.Parse(d, s); err == nil {
			return t.UTC(), nil
		}
		for _, sep := range []string{"T", " "} {
			for _, tm := range times {
				for _, z := range zones {
					if t, err := time.Parse(d+sep+tm+z, s); err == nil {
						return t.UTC(), nil
					}
				}
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", s)
}

func (o *Options) decodeRetry() error {
	var r retryOptions
	if err := driver.DecodeMap(o.ClientRetryOptions, &r, where+".clientRetryOptions"); err != nil {
		return err
	}
	switch strings.ToLower(r.Mode) {
	case "", "exponential", "fixed":
	default:
		return cfgErr("clientRetryOptions.mode", fmt.Sprintf("unknown mode %q", r.Mode), "use exponential or fixed")
	}
	if r.MaximumRetries < 0 {
		return cfgErr("clientRetryOptions.maximumRetries", fmt.Sprintf("%d is out of range", r.MaximumRetries), "use 0 or more")
	}
	o.retry = azeventhubs.RetryOptions{MaxRetries: int32(r.MaximumRetries), RetryDelay: r.Delay, MaxRetryDelay: r.MaximumDelay}
	if hasKey(o.ClientRetryOptions, "maximumRetries") && r.MaximumRetries == 0 {
		o.retry.MaxRetries = -1 // the SDK's "no retries"
	}
	if strings.EqualFold(r.Mode, "fixed") && r.Delay > 0 {
		o.retry.MaxRetryDelay = r.Delay
	}
	return nil
}

// startPosition is where a partition without a checkpoint starts (initialOffsetOptions).
func (o *Options) startPosition() azeventhubs.StartPosition {
	switch o.initial.Type {
	case "fromEnd":
		return azeventhubs.StartPosition{Latest: to.Ptr(true)}
	case "fromEnqueuedTime":
		return azeventhubs.StartPosition{EnqueuedTime: to.Ptr(o.initial.at), Inclusive: true}
	}
	return azeventhubs.StartPosition{Earliest: to.Ptr(true)}
}

// prefetch is ProcessorOptions.Prefetch: the SDK's 0 means its default, < 0 disables.
func (o *Options) prefetch() int32 {
	if o.PrefetchCount == 0 {
		return -1
	}
	return int32(o.PrefetchCount)
}

// target is the Functions target executions per instance: targetUnprocessedEventThreshold, else
// maxEventBatchSize.
func (o *Options) target() int64 {
	if o.TargetUnprocessedEventThreshold > 0 {
		return int64(o.TargetUnprocessedEventThreshold)
	}
	return int64(o.MaxEventBatchSize)
}
