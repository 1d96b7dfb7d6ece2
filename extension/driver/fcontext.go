package driver

import (
	"log/slog"
	"time"
)

// FunctionContext describes one running invocation attempt. Input and output bindings receive
// it; handlers and middleware get it with extension.FromContext.
type FunctionContext struct {
	FunctionName string
	TriggerType  string
	// Metadata is the trigger's binding data (never nil inside the runtime).
	Metadata Metadata
	Retry    RetryContext
	// Started is when this attempt started.
	Started time.Time
	// Invocation is the runtime's side of the attempt; nil outside the runtime (for example in a
	// connector's unit test, where BindingData falls back to Metadata).
	Invocation Invocation
}

// Invocation is implemented by the runtime for each attempt.
type Invocation interface {
	ID() string           // the invocation id (a random UUID)
	Logger() *slog.Logger // carries the keys function, trigger and invocation_id
	// Value looks up binding data: JSON payload members (Event.Payload), then trigger metadata,
	// case-insensitively (checklist C19).
	Value(name string) (any, bool)
	Now() time.Time // the host's clock
	// SetReply records the invocation's reply for a request/response trigger (Result.Reply).
	SetReply(v any)
}

// SetReply records the invocation's reply (see Result.Reply); outside the runtime it does nothing.
func (fc *FunctionContext) SetReply(v any) {
	if fc.Invocation != nil {
		fc.Invocation.SetReply(v)
	}
}

// RetryContext describes the current attempt of an invocation under a retry policy.
type RetryContext struct {
	RetryCount    int   // 0 on the first attempt
	MaxRetryCount int   // -1 = forever; 0 = no policy
	LastErr       error // the previous attempt's error (nil on the first attempt)
}

// InvocationID returns the invocation's id ("" outside the runtime).
func (fc *FunctionContext) InvocationID() string {
	if fc.Invocation == nil {
		return ""
	}
	return fc.Invocation.ID()
}

// Logger returns the invocation's logger (slog.Default() outside the runtime).
func (fc *FunctionContext) Logger() *slog.Logger {
	if fc.Invocation == nil {
		return slog.Default()
	}
	return fc.Invocation.Logger()
}

// BindingData looks up a binding-data name (JSON payload members, then trigger metadata),
// case-insensitively.
func (fc *FunctionContext) BindingData(name string) (any, bool) {
	if fc.Invocation != nil {
		return fc.Invocation.Value(name)
	}
	if fc.Metadata == nil {
		return nil, false
	}
	return fc.Metadata.Lookup(name)
}
