// Package azhttp is the HTTP trigger and the `http` output binding (Azure Functions' built-in
// HTTP extension). The runtime links it into every host (package extension imports it), so app
// folders with httpTrigger functions load without an import.
//
// # function.json
//
//	{"type": "httpTrigger", "direction": "in", "name": "req",
//	 "route": "products/{category:alpha}/{id:int?}", "methods": ["get", "post"], "authLevel": "function"}
//	{"type": "http", "direction": "out", "name": "$return"}
//
// The output may also be named ("res"). The trigger's properties:
//
//   - route: an ASP.NET Core route template (literals, {p}, {p?}, {p=default}, {*rest} and the
//     constraints int, long, bool, guid, alpha, datetime, double, float, decimal, min, max, range,
//     length, minlength, maxlength, required, regex); "" is the function's name. It is served at
//     host.json extensions.http.routePrefix + "/" + route: the prefix defaults to "api", and ""
//     removes it.
//   - methods: absent admits every method. A method or constraint mismatch is a 404, as in
//     Functions (not a 405).
//   - authLevel: anonymous, function (the default), admin (system and user as in Functions).
//     The host's router checks the key (header x-functions-key, or the query's code) before the
//     function runs.
//
// Binding data for the function's other bindings ({id} in a blob path or a queue name), in
// Functions' precedence: route values, query parameters (not `code`), the members of a JSON
// body, then Query and Headers (maps of comma-joined values; the key's `code` and
// x-functions-key are left out, where Functions keeps them).
//
// The reply: the `http` output's value; 200 with no body when the function succeeded without
// one (Functions' OkResult); 500 with no body when it failed (the error is logged, never sent).
//
// # Go types, and why
//
// A handler takes one of:
//
//   - *http.Request: the request as net/http gives it, route values from driver.RouteValues.
//     Its body is buffered (bounded by the host's body limit), so that JSON members are binding
//     data and r.Body reads from the start.
//   - a struct, map, []byte, string or json.RawMessage: the body, converted by the runtime as
//     every trigger's payload is (a typed JSON body is a struct parameter; an empty body gives
//     a struct or map its zero value, as Functions creates an empty instance).
//   - *Stream (from Handle): the live http.ResponseWriter and request, nothing buffered — the
//     escape hatch for streaming responses, uploads and existing http.Handlers.
//
// and returns (to `$return`, or in a field of a result struct tagged `azbind:"res"` next to
// queue or blob outputs, as the isolated worker's MyOutputType) a Response:
//
//	type Response struct { Status int; Header http.Header; Body any }
//
// Response is a plain value rather than an http.ResponseWriter because an output binding is a
// value the runtime collects and flushes after the handler returned, with the other outputs: a
// failed invocation sends a 500 instead of half a response, and the queue message and the reply
// are both written or neither is. Status 0 means 200 so that the zero value is a valid reply;
// Header is net/http's own type; Body is `any` so that a handler returns its data and the
// output encodes it (bytes and strings as they are, anything else as JSON), as ObjectResult does.
// The output also accepts driver.HTTPReply, a string (a text body), and — what a custom
// handler's Outputs carry — json.RawMessage, []byte or map[string]any in the Functions shape
// {"statusCode"|"status": 200, "body": …, "headers": {…}} (statusCode wins; a number or a
// numeric string); bytes that are not that shape are the body.
//
// Differences from Functions: the request body is bounded by the host's limit (Functions
// streams unbounded bodies to in-process functions); complex segments ("{name}.{ext}") are not
// supported; regex constraints use Go's RE2 syntax; cookies and content negotiation in the
// response shape are not implemented.
package azhttp
