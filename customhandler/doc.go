// Package customhandler runs an Azure Functions custom handler — a web server in any language —
// behind azbind's bindings, speaking the Functions host's HTTP protocol exactly (host.json
// `customHandler` or the legacy `httpWorker`).
//
// A Worker starts the handler program (description.defaultExecutablePath, relative to the app
// folder or on PATH, with workingDirectory and arguments) on a free loopback port passed in
// FUNCTIONS_CUSTOMHANDLER_PORT and FUNCTIONS_HTTPWORKER_PORT, waits until GET / answers, logs its
// output, and restarts it with back-off when it exits. Worker.Handler is an extension.Dynamic
// handler: set it as extension.HostOptions.DefaultHandler and every function of the app folder
// is forwarded as POST /<FunctionName> {"Data": …, "Metadata": …}; the answer's Outputs,
// ReturnValue and Logs are applied. A non-2xx, non-JSON or late answer fails the invocation,
// which then retries, poisons or dead-letters as any failure does.
//
// Encodings follow the Functions host, quirks included, so that existing handlers work
// unchanged: strings arrive JSON-encoded inside Data and Metadata ("hello" as "\"hello\""),
// numbers and times as JSON text in strings (DequeueCount "4"), bytes as base64, and an output
// string that happens to decode as base64 is written as those bytes. host.json
// `customHandler.azbindStrictTypes: true` (or the setting AZBIND_CUSTOMHANDLER_STRICT_TYPES=true)
// turns the quirks off: values keep their JSON types and output strings stay strings.
//
// The package is exported so that a Go program can do what `azbind start` does in its own
// binary: LoadConfig, Start, then run an extension.Host with DefaultHandler: w.Handler().
package customhandler
