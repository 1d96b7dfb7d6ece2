package azhttp

import (
	"context"
	"fmt"

	"github.com/azbind/azbind/extension/driver"
)

type output struct{ name string }

func newOutput(_ context.Context, bc *driver.BindContext) (driver.Output, error) {
	if !isHTTPTrigger(bc.TriggerType) {
		return nil, bc.Errorf("type", "use an httpTrigger with an http output, or another output type",
			"an http output answers an HTTP request, and this function's trigger is %s", bc.TriggerType)
	}
	return &output{name: bc.Spec.Name}, nil
}

// Open implements driver.Output.
func (o *output) Open(_ context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	return &sink{name: o.name, fc: fc}, nil
}

type sink struct {
	name  string
	fc    *driver.FunctionContext
	reply driver.HTTPReply
	added bool
}

// Add implements driver.Sink: one response per invocation.
func (s *sink) Add(_ context.Context, item any) error {
	if s.added {
		return fmt.Errorf("http output %q takes one response per invocation, and got a second", s.name)
	}
	r, err := reply(item)
	if err != nil {
		return fmt.Errorf("http output %q: %w", s.name, err)
	}
	s.reply, s.added = r, true
	return nil
}

// Flush implements driver.Sink: the reply becomes the invocation's (Result.Reply).
func (s *sink) Flush(context.Context) error {
	if s.added {
		s.fc.SetReply(&s.reply) // a pointer: the sink is already on the heap
	}
	return nil
}
