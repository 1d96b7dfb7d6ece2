package extension

import (
	"context"
	"time"
)

// invocation is the runtime's per-attempt state (defined fully in runtime.go).
type invocation struct{}

func (inv *invocation) Value(name string) (any, bool) { return nil, false }
func (inv *invocation) now() time.Time                { return time.Now() }

// outputState is one output binding's state within an invocation.
type outputState struct{}

func (o *outputState) add(ctx context.Context, item any) error { panic("not implemented") }
