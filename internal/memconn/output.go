package memconn

import (
	"context"
	"fmt"

	"github.com/azbind/azbind/extension/driver"
)

// Output "mem" (direction out): items are sent to the queue named by `queue` (a binding
// expression) when the invocation succeeds, and never otherwise.

type outputConfig struct {
	Queue string `binding:"queue,required"`
}

type output struct {
	queue *driver.Template
	cl    *client
}

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	var cfg outputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	t, err := bc.Template("queue")
	if err != nil {
		return nil, err
	}
	cl, err := clientFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	return &output{queue: t, cl: cl}, nil
}

type sink struct {
	q     *Queue
	items [][]byte
}

func (o *output) Open(_ context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	name, err := o.queue.Eval(fc)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("queue name evaluated to an empty string")
	}
	return &sink{q: o.cl.b.Queue(name)}, nil
}

func (s *sink) Add(_ context.Context, item any) error {
	b, _, err := driver.Encode(item)
	if err != nil {
		return err
	}
	s.items = append(s.items, b)
	return nil
}

func (s *sink) Flush(context.Context) error {
	for _, b := range s.items {
		s.q.Send(b)
	}
	s.items = nil
	return nil
}
