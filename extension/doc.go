// Package extension is azbind's runtime, the Go counterpart of the Azure WebJobs SDK host: it
// loads Functions app folders and Go API declarations, builds their bindings through the
// registered connectors (package driver) and runs them.
//
// # The contract
//
// Connectors implement the contract in package driver (Trigger, Input, Output, the connector
// template, the lifecycle) and never import this package; this package names the few contract
// types an application shares with them (FunctionContext, BindingSpec, HostStorage, …).
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
