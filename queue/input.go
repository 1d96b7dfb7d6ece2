package queue

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/azbind/azbind/extension/driver"
)

// clientInput is the `queue` input binding: the handler gets an SDK client.
type clientInput struct {
	name    *driver.Template
	svc     *azqueue.ServiceClient
	service bool
	where   string
}

var (
	queueClientType   = reflect.TypeFor[*azqueue.QueueClient]()
	serviceClientType = reflect.TypeFor[*azqueue.ServiceClient]()
)

func newInput(ctx context.Context, bc *driver.BindContext) (driver.Input, error) {
	in := &clientInput{where: bc.Spec.Where}
	switch bc.Param {
	case nil, queueClientType:
	case serviceClientType:
		in.service = true
	default:
		return nil, bc.Errorf("", "change the parameter type (to read messages use a queueTrigger)", "a queue input binding supplies *azqueue.QueueClient or *azqueue.ServiceClient, not %s: %w", bc.Param, driver.ErrUnsupportedType)
	}
	if !in.service {
		var cfg bindingConfig
		if err := bc.Decode(&cfg); err != nil {
			return nil, err
		}
		t, err := bc.Template("queueName")
		if err != nil {
			return nil, err
		}
		if t.IsLiteral() {
			if err := ValidQueueName(strings.ToLower(t.Literal())); err != nil {
				return nil, bc.Errorf("queueName", "", "%w", err)
			}
		}
		in.name = t
	}
	var err error
	if in.svc, err = bindingServiceClient(ctx, bc); err != nil {
		return nil, err
	}
	return in, nil
}

// Bind implements driver.Input.
func (in *clientInput) Bind(ctx context.Context, fc *driver.FunctionContext) (any, error) {
	if in.service {
		return in.svc, nil
	}
	name, err := in.name.Eval(fc)
	if err != nil {
		return nil, err
	}
	name = strings.ToLower(name)
	if err := ValidQueueName(name); err != nil {
		return nil, fmt.Errorf("%s: queueName: evaluated to an invalid name: %w", in.where, err)
	}
	return in.svc.NewQueueClient(name), nil
}
