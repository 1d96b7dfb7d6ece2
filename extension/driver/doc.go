// Package driver is azbind's connector contract: what a connector package implements and
// registers, and what the runtime gives it. Applications use package extension (the runtime); a
// connector imports this package, package connection and its Azure SDK, and nothing of the
// runtime — as a database/sql driver imports only database/sql/driver.
//
// # The contract
//
// A connector registers binding types by their function.json names, from init:
//
//	Register(Extension{Name: "queues", Bindings: []BindingType{…}, Check: check})
//
// and implements up to three one-method interfaces:
//
//	Trigger  Run(ctx, Executor) error              // starts invocations, settles by Result
//	Input    Bind(ctx, *FunctionContext) (any, error)
//	Output   Open(ctx, *FunctionContext) (Sink, error); Sink: Add(ctx, item), Flush(ctx)
//
// Each factory receives a *BindContext: the binding as declared (%setting% resolved), Decode for
// typed options, Template for `{…}` expressions, Connection for the resolved `connection`,
// Param for the Go type the handler wants, Errorf for typed configuration errors, and the host's
// Services (logger, host id, settings, host storage, HTTP router, clock, meter, Shared values).
//
// Executor.Execute runs one invocation (inputs bound, handler called, outputs flushed, the
// function's retry policy applied) and returns a Result — Succeeded, Failed or Cancelled — from
// which the trigger settles the item in one switch. Nothing that did not succeed is acknowledged.
//
// # Rules the runtime keeps, so that no connector decides them again
//
//   - Never nil: inside the runtime, BindContext.Host and its Logger, Clock, Meter, Settings,
//     Connections, Storage and Router are set. Connectors do not check them or fall back to
//     globals (slog.Default, otel.GetMeterProvider, time.Now).
//   - Serialised: Open, Add and Flush of one invocation's Sink are never called concurrently;
//     a Sink needs no lock. Different invocations run concurrently.
//   - Decode once: host-wide options are Section[T](ctx, bc), decoded and validated once per host.
//   - HTTP is the runtime's: routes are mounted on Services.Router with an AuthLevel and removed
//     by their unmount func; the router checks keys. No connector has a router or reads a key.
//   - Request/response: a trigger that answers its caller (the HTTP trigger) reads Result.Reply,
//     which an output binding or a dynamic handler set with FunctionContext.SetReply.
//   - Coordination: exclusive claims are leases (Services.AcquireLease), never a scheme of a
//     connector's own.
//
// # Lifecycle
//
// The runtime owns everything a factory returns. After the drain (and at once after
// Host.Verify) it closes each Trigger, Input and Output that implements io.Closer, then every
// value opened with Shared, newest first. Per-host state — an SDK client per endpoint and
// credential, an AMQP connection, a scanner per container — is a Shared value, never a package
// variable. State that must survive a restart (receipts, checkpoints, leases) goes to
// Services.DurableStorage, which refuses to hand out memory storage the host fell back to.
// A trigger error that retrying cannot clear wraps ErrPermanent: the runtime stops that
// function, loudly, and keeps the others running. A trigger that can report its backlog
// implements Scaler; the host serves the figures for KEDA.
//
// # The connector template
//
// Every connector folder has the same files, and a new connector starts from
// internal/memconn (the smallest complete one); template.md in this folder gives the details
// and the per-connector table:
//
//	doc.go             package doc: binding types, properties, host.json keys, checklist rows
//	register.go        init → Register; the Go-API helpers (queue.Trigger, queue.Output, …)
//	clients.go         connection.Connection → SDK client, in one place, used by every binding
//	                   and by Extension.Check (one cheap authenticated call, like sql's Pinger)
//	options.go         the host.json section decoded once (zero value = Functions defaults,
//	                   Validate names the host.json field), shared by trigger and output
//	trigger.go         factory + Run: receive → Execute → one switch on Result.Status
//	input.go, output.go
//	conformance_test.go  conformance.Run against the real emulator, declaring Capabilities; its
//	                   Lifecycle test starts and stops hosts with the connector's bindings and
//	                   checks that no goroutine (goleak) and no Shared value is left
//
// A factory reads the same way in every connector: Decode the properties, compile Templates,
// get the client with Shared(ctx, bc.Host, key, open) from clients.go, return the value.
// Configuration problems are bc.Errorf(field, fix, format, …) (*ConfigError: file, field,
// problem, fix as fields; errors.Is ErrInvalidConfig); the CLI prints them one per line.
// Clients are built with Connection.SDKOptions, which also scrubs secrets from SDK errors: no
// connector redacts at call sites.
//
// # The seven connectors on the template
//
//   - queue (poll): Run loops receive → Execute → delete / release / move to <queue>-poison;
//     Scaler from the approximate message count.
//   - blob (poll + hand-over): scan the container (receipts, scan lock), enqueue to the host's
//     blob-trigger queue, Execute from it, complete the receipt on Succeeded.
//   - table: Input and Output only; conformance drives the output with the in-memory trigger.
//   - cosmos (stream with leases): a lease per feed range in the lease container (ETag-
//     conditional writes), Execute a batch (cardinality many gives Event.Batch), store the
//     continuation after Succeeded, or after a batch that failed past its retries has been
//     written to host storage as a dead letter (logged at ERROR); never after Cancelled.
//   - eventhubs (stream with checkpoints): the SDK's Processor with its blob checkpoint store,
//     one partition client per owned partition. Functions checkpoints past a batch that failed
//     after its retries, and the events are gone; azbind checkpoints past it only once it is
//     written where a user can find it (a dead letter), holding the partition until then.
//   - servicebus (brokered with settlement): receive with peek-lock, Execute, complete on
//     Succeeded, abandon on Failed and Cancelled; a handler that settles itself takes the
//     connector's actions type, offered per event (BindingType.Extras, Event.Extras), and the
//     trigger does not settle again. The AMQP client is a Shared value closed with the host.
//   - eventgrid (push): Run mounts its webhook on Services.Router and blocks until ctx is done;
//     each request calls Execute and answers 202, or 500 so that Event Grid redelivers; 503 once
//     the host drains.
package driver
