// Package extension is azbind's plug-in contract and the runtime that drives it: the Go
// counterpart of the Azure WebJobs SDK's binding model.
//
// # The contract
//
// A connector is a package that registers binding types (database/sql style) and implements up
// to three small interfaces:
//
//	Trigger  Run(ctx, Executor) error              // starts invocations, settles by Result
//	Input    Bind(ctx, *FunctionContext) (any, error)
//	Output   Open(ctx, *FunctionContext) (Sink, error); Sink: Add(ctx, item), Flush(ctx)
//
// Factories receive a *BindContext: the binding as declared (with %setting% resolved), Decode
// for typed options, Template for `{…}` expressions, Connection for the resolved `connection`,
// Param for the Go type the handler wants (so a connector can hand over SDK types), and the host
// Services (logger, host ID, settings, connection resolver, host storage, HTTP mux, clock).
//
// Executor.Execute runs one invocation — inputs bound, handler called, outputs flushed, the
// function's retry policy applied — and returns a Result (Succeeded, Failed, Cancelled) from
// which the trigger decides how to settle. That one decision point is what lets every kind of
// trigger fit without special cases in the runtime:
//
//   - poll (queue, blob scan): Run loops receive → Execute → delete / release / poison.
//     queue: receive a batch, Execute each message concurrently, delete on Succeeded,
//     reset visibility or move to <queue>-poison on Failed, leave alone on Cancelled.
//     blob: scan the container, write a receipt, enqueue to azure-webjobs-blobtrigger-<hostId>,
//     Execute from that queue, complete the receipt on Succeeded.
//   - push (Event Grid webhook): Run mounts a handler on Services.Mux and blocks until ctx is
//     done; each POST calls Execute synchronously and answers 202 on Succeeded, 500 otherwise.
//   - stream with checkpoints and leases (Event Hubs partitions, Cosmos change feed): Run claims
//     partition leases through host storage (ETag-conditional writes), Executes a batch
//     (`cardinality: many` gives Event.Batch) and checkpoints after Succeeded or Failed, never
//     after Cancelled.
//   - brokered with settlement (Service Bus): Run receives with peek-lock, Executes, then
//     completes on Succeeded and abandons on Failed; a handler that wants to settle itself takes
//     a connector-provided actions type as a parameter (chosen through BindContext.Param), and the
//     trigger sees that it was settled.
//
// # The runtime
//
// A Host declares functions either through the Go API (Host.Func with Func, Action or Reflect
// handlers and connector binding helpers) or from a Functions app folder (Host.LoadAppDir:
// host.json, <fn>/function.json, local.settings.json, with Host.Handle supplying each function's
// Go handler by name). Both produce the same FunctionSpecs and go through the same checks.
//
// Each attempt runs through the middleware chain (the first registered is the outermost), with
// panics turned into failures, a FunctionContext in ctx (FromContext), and cancellation at the
// function timeout or after the drain deadline. Host.Run stops fetching on shutdown, lets
// in-flight invocations finish within HostOptions.ShutdownTimeout, then cancels them; nothing is
// acknowledged that did not succeed.
//
// Logs use log/slog with the stable keys function, trigger and invocation_id; each attempt is an
// OpenTelemetry span when a tracer provider is configured.
package extension
