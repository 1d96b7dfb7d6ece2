package extension

import (
	"strings"
	"time"
)

// FunctionSpec is a declared function.
type FunctionSpec struct {
	Name     string
	Bindings []*BindingSpec
	Disabled bool
	Retry    *RetryPolicy // function-level retry (function.json "retry"); nil = host.json's
	Where    string       // "ProcessOrder/function.json" or "Go API"
}

// Trigger returns the function's trigger binding.
func (f *FunctionSpec) Trigger() *BindingSpec {
	for _, b := range f.Bindings {
		if b.IsTrigger() {
			return b
		}
	}
	return nil
}

// RetryStrategy names a retry policy strategy.
type RetryStrategy string

const (
	FixedDelay         RetryStrategy = "fixedDelay"
	ExponentialBackoff RetryStrategy = "exponentialBackoff"
)

// RetryPolicy is a function retry policy (checklist C57). MaxRetryCount -1 retries forever.
type RetryPolicy struct {
	Strategy        RetryStrategy
	MaxRetryCount   int
	DelayInterval   time.Duration // fixedDelay
	MinimumInterval time.Duration // exponentialBackoff
	MaximumInterval time.Duration // exponentialBackoff
}

// HostConfig is host.json (version 2.0) after AzureFunctionsJobHost__… overrides.
type HostConfig struct {
	Version         string
	FunctionTimeout time.Duration // 0 = default (30 min); <0 = unbounded ("-1")
	Retry           *RetryPolicy
	// Extensions holds the "extensions" sections by name (case preserved; look up with Extension).
	Extensions map[string]map[string]any
	// LogLevels is logging.logLevel: category ("default", "Function", "Function.Name", "Host.Triggers"…) → level.
	LogLevels map[string]string
	// Warnings are unknown keys and other non-fatal findings, as "host.json: field: problem".
	Warnings []string
}

// Extension returns the extensions section named name (case-insensitive), or nil.
func (h *HostConfig) Extension(name string) map[string]any {
	if h == nil {
		return nil
	}
	if v, ok := h.Extensions[name]; ok {
		return v
	}
	for k, v := range h.Extensions {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// DefaultFunctionTimeout is the timeout when host.json sets none (30 min, as on dedicated plans).
const DefaultFunctionTimeout = 30 * time.Minute
