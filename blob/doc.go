// Package blob is azbind's Azure Blob Storage connector: the `blobTrigger` trigger and the `blob`
// input and output bindings of Azure Functions, built on azblob.
//
// # Trigger
//
// A blobTrigger binding watches a path pattern such as "images/{name}.{ext}" (checklist C28):
// captures become binding data next to BlobTrigger, Uri, Properties and Metadata (C29). The
// trigger works as the WebJobs host does (C30–C34):
//
//  1. A scanner lists the container (with the pattern's literal prefix, in pages of 5,000) every
//     scan interval. A blob whose LastModified is at or after the container's watermark is a
//     candidate. The watermark is persisted at azure-webjobs-hosts/blobscaninfo/<hostId>/<account>/<container>/scanInfo
//     as {"LatestScan": "<ISO time>"}, written only after scans that saw new blobs.
//  2. For each candidate, a receipt blob azure-webjobs-hosts/blobreceipts/<hostId>/<functionId>/<etag>/<container>/<blob>
//     is created with metadata Incomplete and leased for 30 s; a BlobTriggerMessage is put on the
//     internal queue azure-webjobs-blobtrigger-<hostId>; then the receipt is marked complete. While
//     hosts stop cleanly, a blob version (ETag) is therefore handed over once per function and
//     host ID, across restarts and across hosts sharing a host ID.
//  3. Every host consumes the internal queue and invokes the function. A failed invocation is
//     retried; after poisonBlobThreshold dequeues (default 5) the message is copied to the queue
//     webjobs-blobtrigger-poison.
//
// Delivery is at-least-once, as in Functions: a host that is killed (SIGKILL, a crash, a lost
// VM) between creating a receipt and completing it leaves it Incomplete, and once its 30 s lease
// ends the next scan hands the blob over again, although its message may already be queued or
// processed; a message being processed when the host dies is delivered again after its
// visibility timeout. A probe that SIGKILLed a scanning host during 1,000 uploads saw 12 blobs
// run twice. Make blob-triggered functions idempotent (the ETag in Properties identifies the
// version), as the Functions documentation asks.
//
// One host per host ID scans a container at a time (a 1-minute lease, renewed every 30 s by the
// contract's driver.HoldLease, on
// azure-webjobs-hosts/locks/<hostId>/WebJobs.Internal.Blobs.<container>.Listener, like the real
// singleton listener lock); the others take over within seconds when it stops (within the lease
// when it crashes). Every host consumes the internal queue.
//
// Options come from host.json extensions.blobs (see Options): maxDegreeOfParallelism,
// poisonBlobThreshold, pollingInterval, maxScanInterval, maxPollingInterval and startFrom.
//
// Beyond the real system:
//
//   - The watermark is taken from the storage service's own clock at the start of a sweep (less
//     a 5 s margin), so a blob committed while a sweep is running is never skipped.
//   - The scan interval adapts: pollingInterval (1 s) while scans find new blobs and for 10 s
//     after the last one, then doubling per scan that finds nothing, up to maxScanInterval
//     (10 s, the real host's cadence). Candidates are handed over page by page while the
//     listing goes on, so a new blob in a busy container of 10,000 blobs triggers in about a
//     second (bench/blob), and an idle container costs 6 scans a minute (bench/idle). The
//     listing itself cannot be avoided: List Blobs returns names in lexical order with no
//     filter on LastModified, so a scan costs ceil(blobs/5000) list requests; the watermark
//     makes every other per-blob request (receipts) unnecessary for blobs that have not changed.
//   - Hand-overs wake this process's queue listener at once, and blobs written by this host's
//     own `blob` output bindings are handed over at once (fast path, tens of milliseconds),
//     without waiting for a scan; scans remain the safety net.
//   - startFrom ("firstStart" or an RFC 3339 time) limits processing to newer blobs, so moving an
//     app to a new host ID does not reprocess every old blob (azure-webjobs-sdk#1327).
//   - Reprocess hands a blob over again on demand (deleting its receipt alone, as the real
//     system documents, does nothing while the watermark is past the blob).
//
// # Source EventGrid (checklist C35)
//
// With "source": "EventGrid" the trigger does not scan its container (no scanner, no list
// requests, no watermark). Event Grid delivers Microsoft.Storage.BlobCreated events of the
// storage account to the host's webhook
//
//	https://<host>/runtime/webhooks/blobs?functionName=Host.Functions.<name>&code=<blobs_extension key>
//
// served by the eventgrid package's router with the Event Grid extension's handshakes
// (SubscriptionValidation, the CloudEvents OPTIONS request), both schemas, the 401/404/503
// answers and the key handling described there: the host system key blobs_extension is the
// setting host.systemKey.blobs_extension, else generated once and kept in host storage; with
// neither the function does not load. As in Functions, functionName is the function id
// (Host.Functions.<name>); the bare name gets 404. `azbind eventgrid url APPDIR` prints the URL
// with its key.
//
// For every event whose data.url names a blob of the trigger's container that matches its path
// pattern (path-style URLs of the emulator and IP endpoints included; the name is URL-decoded),
// the blob version (data.eTag, data.blobType) is handed over exactly as a scan hands a blob
// over: receipt, internal queue, dispatcher, retries and poison queue are the same, so each blob
// version runs once per function and host ID, and the binding data are those of scanned blobs.
// Events of other containers, of blobs outside the pattern and of other types (BlobDeleted…) are
// ignored (202). A hand-over that fails, or that another host is doing at that moment, makes the
// webhook answer 500, so that Event Grid delivers the request again (the receipts make the
// redelivery of events already handed over harmless). pollingInterval and startFrom do not
// apply; the fast path (blobs written by this host's outputs) does not either: every blob comes
// from its event.
//
// Differences from the real extension, which queues every event's blob as it comes: azbind
// keeps receipts (the real one queues every delivery of an event), ignores events it cannot use
// instead of failing the request with them forever, and keeps the check that drops a message
// whose blob has changed since (the newer version has its own event), so the content a function
// sees is always the version its event announced.
//
// # Input and output
//
// A blob input binding reads the blob named by its path expression ({name}, {queueTrigger}, a
// JSON payload's {id}…) as string, []byte, io.Reader (streamed), a JSON-decoded value, or as an
// SDK client (*blob.Client, *blockblob.Client, *container.Client from azblob). A missing blob
// binds nil — the zero value — as in Functions; other errors fail the invocation.
//
// A blob output binding writes string, []byte, io.Reader (streamed with UploadStream) or a JSON
// value when the invocation succeeds, creating the container if needed.
//
// # Receipts, scan info and locks: their own client, not driver.HostStorage
//
// The host's durable storage (driver.HostStorage, the azure-webjobs-hosts container of
// AzureWebJobsStorage) models records with ETag conditions. The blob trigger's receipts and scan
// lock also need blob leases (a 30 s lease on a receipt while its blob is handed over, a leased
// lock blob per container), which that interface does not offer, and their names and metadata
// must be byte-identical to the real host's so that an app moved from Functions keeps its
// receipts. So the trigger keeps them with its own azblob client (the scan lock through
// hoststore's driver.Leaser on that client's container), in the azure-webjobs-hosts container of
// the account it watches — the same container as host storage whenever the
// trigger's connection is AzureWebJobsStorage, the default. They are durable either way: the
// trigger never keeps them in memory.
package blob
