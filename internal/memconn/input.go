package memconn

import (
	"context"

	"github.com/azbind/azbind/extension/driver"
)

// Input "mem" (direction in): the value stored under `key` (a binding expression), nil when absent.

type inputConfig struct {
	Key string `binding:"key,required"`
}

type input struct {
	key *driver.Template
	cl  *client
}

func newInput(ctx context.Context, bc *driver.BindContext) (driver.Input, error) {
	var cfg inputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	t, err := bc.Template("key")
	if err != nil {
		return nil, err
	}
	cl, err := clientFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	return &input{key: t, cl: cl}, nil
}

func (in *input) Bind(_ context.Context, fc *driver.FunctionContext) (any, error) {
	k, err := in.key.Eval(fc)
	if err != nil {
		return nil, err
	}
	v, ok := in.cl.b.Get(k)
	if !ok {
		return nil, nil
	}
	return v, nil
}
