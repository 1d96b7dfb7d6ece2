// Package eventgrid is azbind's Azure Event Grid connector: the `eventGridTrigger` trigger, served
// on the host's HTTP webhook as the Functions host serves it, and the `eventGrid` output binding,
// which publishes through azeventgrid. Importing the package registers both (extension name
// "eventGrid"; the real extension has no host.json options, and neither has this one).
//
// # The webhook (checklist C51–C54)
//
// Event Grid delivers to
//
//	https://<host>/runtime/webhooks/eventgrid?functionName=<Function>&code=<eventgrid_extension key>
//
// The extension segment ("eventgrid", "EventGrid", …) is matched case-insensitively; functionName
// is matched exactly, as the extension's listener table does. Serve the host's handler yourself
// (Host.Handler) or let Run serve it (HostOptions.HTTPAddr or the setting AZBIND_HTTP_ADDR, e.g.
// ":7071"). Callers present the host system key "eventgrid_extension" as the code query
// parameter or the x-functions-key header: without it, or with a wrong one, the answer is 401
// (the runtime compares it in constant time; the master key is accepted too). The runtime keeps
// the key with the host's other Functions keys: the setting host.systemKey.eventgrid_extension
// when defined (the name Azure Container Apps gives the key's secret; host__systemKey__… works
// too), else generated once in Functions' key format and kept in host.json systemKeys of the
// azure-webjobs-secrets container (under secrets/ of the host storage a program gives), so that
// every instance of the app uses the same key. With neither the setting nor durable host storage
// (AzureWebJobsStorage) the trigger does not start: a key kept in memory would change at each
// start. `azbind eventgrid url APPDIR` prints
// each function's webhook URL with its key. An unknown function gets 404 "cannot find function:
// '<name>'".
//
// Request handling is the extension's (reference §3.7):
//
//   - OPTIONS (the CloudEvents abuse-protection handshake): 200 with WebHook-Allowed-Origin set to
//     the request's WebHook-Request-Origin when it is one of Event Grid's clouds
//     (eventgrid.azure.net, .us, .eaglex.ic.gov, .microsoft.scloud, .cn), else eventgrid.azure.net;
//     409 "CloudEvent schema cannot be used for a function that binds to EventGridEvent." when the
//     handler takes azeventgrid.Event.
//   - aeg-event-type: SubscriptionValidation: 200 {"validationResponse": "<code>"} with the code
//     from [0].data.validationCode (array body) or from the object body's data (a JSON string that
//     is parsed, or an object); 409 "EventGridEvent schema cannot be used for a function that binds
//     to CloudEvent." when the handler takes messaging.CloudEvent.
//   - aeg-event-type: Notification: the body is an array of events, or one event object (a
//     structured-mode CloudEvent; batches come as application/cloudevents-batch+json arrays). With
//     single dispatch every event is one invocation, all run in parallel; with batch dispatch
//     (a slice parameter, or cardinality many) the whole array is one invocation. Any failed
//     invocation ⇒ 500 with its error message (Event Grid delivers the whole request again); else
//     202. An invocation cancelled by the host's shutdown ⇒ 503.
//   - aeg-event-type: Unsubscribe ⇒ 202; another or no aeg-event-type ⇒ 400.
//   - A body that is not a JSON object or an array of objects ⇒ 400 (the real extension throws and
//     answers 500, which makes Event Grid retry a body that can never parse); a body over the
//     host's limit ⇒ 413.
//   - Once the host drains (the trigger's Run context is cancelled), requests for the function get
//     503 with Retry-After, so that Event Grid delivers them again later or elsewhere; requests in
//     flight finish first.
//
// Handler parameters: string, []byte or json.RawMessage (the event's JSON as delivered), a struct
// or map (JSON-decoded), azeventgrid.Event, messaging.CloudEvent (its Data holds the data's JSON
// text as []byte, as azcore decodes it), pointers to those, and slices of each for batches.
// Binding data: `data` (the event's data; for a batch the array of every event's data), and for
// single dispatch the event's other top-level members ({subject}, {data.url}, …).
//
// # Output (checklist C55, C56)
//
// `eventGrid` takes either topicEndpointUri and topicKeySetting — the names of the app settings
// that hold the topic endpoint and its access key (sent as aeg-sas-key) — or connection, the
// name of an identity section with <name>__topicEndpointUri and the usual credential properties
// (a bearer token for https://eventgrid.azure.net/.default; azbind also accepts a setting holding
// Endpoint=<topic endpoint>;AccessKey=<key>). The two forms are mutually exclusive; one of them is
// required. (The real extension falls back to DefaultAzureCredential for topicEndpointUri without a
// key, and takes a connection setting holding a bare URI as the endpoint of an identity; azbind
// asks for the explicit forms.) The topicEndpointUri + topicKeySetting client takes its transport
// from the host's connection resolver when that implements ClientOptionsProvider.
//
// Events are buffered and published in one request when the invocation succeeds (Sink.Flush); a
// failed invocation publishes nothing. The first item decides the schema (see Events): Event Grid
// schema items go out with PublishEvents (Content-Type application/json), CloudEvents with
// PublishCloudEvents (application/cloudevents-batch+json); every item of one invocation must have
// that schema. azeventgrid requires an https endpoint.
//
// # Blob trigger with source EventGrid
//
// Listen and Endpoint are exported so that the blob trigger's Event Grid source can serve
// /runtime/webhooks/blobs (system key blobs_extension) with the same handshakes. Both webhooks
// are routes on the host's router (Services.Router) at AuthSystem: the runtime keeps and checks
// the system keys (host.json systemKeys in azure-webjobs-secrets, as Functions; see `azbind keys`).
package eventgrid
