// Package memconn is an in-memory connector used only by azbind's own tests. It proves the
// extension contract, drives the conformance suite without any emulator, and is the smallest
// complete example of a connector: start a new one from it. Its files follow the connector
// template (see package driver):
//
//   - register.go: one driver.Extension with its binding types (and the types its triggers offer
//     handlers by type, BindingType.Extras) and its Check.
//   - clients.go: the host's client of the service, built in one place (newClient) and shared
//     per host (driver.Shared); Check makes one cheap call through the same constructor.
//   - options.go: the host.json section "memory", decoded and validated once per host
//     (driver.Section); the zero value means the defaults, errors name the host.json field.
//   - service.go: the Broker — queues, streams, a key/value store and a push Publisher — the
//     simulated service, shared by every host of the process as a real service is. It stands in
//     for the SDK whose clients a real connector's clients.go builds.
//   - trigger.go: "memTrigger", a queue trigger (Service Bus-like): at-least-once delivery,
//     redelivery on failure, dead-letter after maxDeliveries, batches for `cardinality: many`, and
//     settlement chosen by the handler through *Actions.
//   - trigger_stream.go: "memStreamTrigger", a partitioned log (Event Hubs-like): ordered per
//     partition key, partitions in parallel, checkpoints in durable host storage so that a
//     restarted host resumes where the last one stopped.
//   - trigger_push.go: "memPushTrigger", a pushed trigger (Event Grid-like): an HTTP POST on the
//     host's Mux runs the function and answers 202, 500 on failure, 503 once the host drains.
//   - input.go, output.go: "mem", an input from the key/value store and an output to a queue.
//
// Its conformance harnesses are in package conformance's tests (TestInMemory, TestInMemoryStream,
// TestInMemoryPush), since that package links memconn in.
package memconn
