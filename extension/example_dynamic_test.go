package extension_test

import (
	"context"
	"encoding/json"
	"log"
	"os/signal"
	"syscall"

	"github.com/azbind/azbind/extension"
	_ "github.com/azbind/azbind/queue" // the queue and queueTrigger binding types
)

// A handler for a function whose bindings are known only at run time: the queue message's bytes
// in, a JSON document out to the binding named "$return" (a json.RawMessage reaches the queue
// output as is). Run it against a storage account or Azurite (AzureWebJobsStorage).
func ExampleDynamic() {
	host, err := extension.NewHost(extension.HostOptions{})
	if err != nil {
		log.Fatal(err)
	}
	echo := extension.Dynamic(func(ctx context.Context, inv *extension.DynamicInvocation) (extension.Outputs, error) {
		body, err := inv.Bytes()
		if err != nil {
			return nil, err
		}
		doc, _ := json.Marshal(map[string]any{"body": string(body), "dequeueCount": inv.Metadata["DequeueCount"]})
		extension.FromContext(ctx).Logger().Info("echoing", "bytes", len(body))
		return extension.Outputs{"$return": json.RawMessage(doc)}, nil
	})
	_ = host.Func("Echo", echo,
		extension.Binding("queueTrigger", "msg", extension.DirIn, extension.Props{"queueName": "echo-in"}),
		extension.Binding("queue", "$return", extension.DirOut, extension.Props{"queueName": "echo-out"}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// One handler for every function of an app folder that has none of its own: it sees each
// function's name, trigger binding data and inputs by name, and returns nothing here.
func ExampleHostOptions_defaultHandler() {
	host, err := extension.NewHost(extension.HostOptions{
		DefaultHandler: extension.Dynamic(func(ctx context.Context, inv *extension.DynamicInvocation) (extension.Outputs, error) {
			extension.FromContext(ctx).Logger().Info("invoked", "function", inv.Function, "metadata", inv.Metadata, "inputs", len(inv.Inputs))
			return nil, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := host.LoadAppDir("./app"); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
