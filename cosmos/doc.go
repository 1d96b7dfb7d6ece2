// Package cosmos is azbind's Azure Cosmos DB connector (reference §3.4, extension v4): the
// `cosmosDBTrigger` trigger on a container's change feed, and the `cosmosDB` input and output
// bindings. Importing the package registers them (extension name "cosmosDB", the host.json section
// `extensions.cosmosDB`). Clients are built with azcosmos from the resolved `connection` (default
// "CosmosDB"): a connection string (`AccountEndpoint=…;AccountKey=…;`) or an identity section
// (`CosmosDB__accountEndpoint` plus the credential settings). `azbind connection resolve --check`
// proves a connection by listing the account's databases (Extension.Check).
//
// # Trigger
//
// azcosmos has no change-feed processor, so the trigger is one. The monitored container's feed
// ranges each get a lease document in the lease container (`leaseConnection`, default the
// `connection`; `leaseDatabaseName`, default `databaseName`; `leaseContainerName`, default
// "leases"; partitioned by /id), in the layout of the Cosmos DB change-feed processor's EPK
// leases: id `<leaseContainerPrefix><account host>_<database rid>_<container rid>..<min>-<max>`,
// version 1, LeaseToken, FeedRange, Owner, ContinuationToken, timestamp, properties; a
// `<prefix>.info` document marks the store as initialized. `leaseContainerPrefix` is the
// processor name, so several functions share one lease container. Owners are bare GUIDs, as the
// instance names Functions gives its processor (the owner's host id is in the lease's
// properties, `azbind.hostId`).
//
// Where azbind differs: the real processor first creates one lease per partition-key range
// (version 0, LeaseToken = the range id, no FeedRange; DocumentServiceLeaseCore) and moves to EPK
// leases only after a split; azcosmos exposes feed ranges but not partition-key-range ids, so
// azbind creates EPK leases from the start. A lease container cannot be shared with a running
// Functions app's processor, nor continued from one: a trigger that finds partition-key-range
// leases under its prefix stops with one line saying so (give it its own leaseContainerPrefix or
// lease container, and startFromTime to continue near where the app stopped).
//
// Every leaseAcquireInterval (13 s) a listener lists the leases and takes, with writes conditional
// on the lease's ETag, the expired (not renewed for leaseExpirationInterval, 60 s) and released
// ones up to an equal share among the live owners; when none is free and it is below its share, it
// takes one from the busiest owner. Every leaseRenewInterval (17 s) it renews its leases; a lease
// another host took is given up at once, and before each batch the owner checks it still holds
// the lease. On stop a listener finishes its batches in flight, stores their continuations and
// releases its leases, so another host resumes at once; a killed host's leases expire and are
// taken over from their stored continuations — the listener looks again just after the first
// lease of another owner would expire, so the takeover comes at the expiry (≤ 60 s after the kill
// at the defaults), not at the next acquire round.
//
// Per owned lease, batches are read from the change feed (at most maxItemsPerInvocation documents,
// default: the service's page size) and executed one at a time, so documents of a feed range are
// delivered in order; an empty read waits feedPollDelay (5 s); after a quiet minute the wait
// doubles per empty read up to 4 × feedPollDelay (20 s at the default, 30 s at most), and the
// first change resets it (idle cost; lease renewal and takeover are unaffected). After a batch the continuation is
// stored in the lease (a checkpoint):
//
//   - Succeeded: checkpoint.
//   - Failed (after the function's retry policy): the batch is written to host storage under
//     driver.DeadLetterPrefix (`deadletters/<hostId>/<function>/<time>-<lease>@<next>.json`, the
//     driver.DeadLetter record every stream trigger writes, with the documents, the error and the
//     lease's positions; Replay rewrites unchanged documents so that the feed delivers them again,
//     `azbind deadletters replay`), logged at ERROR, then checkpointed: no
//     change is lost, and the lease moves on. If the dead letter cannot be written, the batch is not
//     checkpointed and is executed again. (Functions checkpoints failed batches without a record.)
//   - Cancelled (host shut down past the drain deadline) or lease lost mid-batch: no checkpoint; the
//     batch comes back to the lease's next owner (at-least-once).
//
// New leases start as declared, and only when no leases exist yet: from now (default; resolved at
// once to the feed's current position, so that changes made before the first checkpoint are not
// skipped by a restart), from the beginning (`startFromBeginning`), or from `startFromTime`
// (ISO 8601 UTC; "Only one of StartFromBeginning or StartFromTime can be used").
// `createLeaseContainerIfNotExists` creates the lease container (partition key /id, default TTL
// −1, `leasesContainerThroughput` RU/s when set). A missing container does not stop the function: as
// Functions retries a listener that failed to start, the start is retried with back-off (up to a
// minute), logged at ERROR once with the reference's message ("Either the source container '…'
// (in database '…') or the lease container '…' (in database '…') does not exist. …", suggesting
// createLeaseContainerIfNotExists only when it is unset), at DEBUG while it lasts and at INFO when
// the listener starts; the monitored container
// as the lease container is a configuration error ("The monitored container cannot be the same as
// the container storing the leases."). Timing properties are milliseconds (as in function.json) or,
// through the Go API, time.Duration values.
//
// A handler takes the batch as []T (JSON-decoded), []json.RawMessage or []map[string]any; with
// `cardinality: many` the batch is delivered as Event.Batch (the same parameter types). The
// trigger has no binding data (its contract is empty). The trigger reports remaining work for
// scaling (driver.Scaler): documents not yet processed across the leases (counted up to 1000 per
// lease), sized by maxItemsPerInvocation (100 when unset).
//
// # Input
//
// `cosmosDB` in: `databaseName`, `containerName` (expressions), and
//
//   - `id` (+ `partitionKey`): a point read; a missing document gives nil (a nil pointer, a zero
//     value), not an error. Without partitionKey the container must be partitioned by /id.
//   - `sqlQuery` (+ `partitionKey` to scope it): each `{name}` becomes the query parameter `@name`
//     with the invocation's binding-data value — binding data never becomes query text; names the
//     trigger cannot provide are load-time errors; dot notation is refused.
//
// The handler takes a struct or map (point read), a slice of them or []json.RawMessage (query),
// json.RawMessage, or *azcosmos.ContainerClient (then id and sqlQuery are not needed).
//
// # Output
//
// `cosmosDB` out upserts, in order, after the invocation succeeded: a struct or map, a slice of
// them, or JSON text ([]byte, string, json.RawMessage) of an object or an array. Every document
// needs a string id and the container's partition-key value. A missing container is the error
// "The container '…' (in database '…') does not exist. To automatically create the container, set
// 'CreateIfNotExists' to 'true'."; with `createIfNotExists` the database and container are created
// (partition key `partitionKey`, a path, default /id; `containerThroughput` RU/s when set).
//
// host.json `extensions.cosmosDB`: connectionMode (Gateway or Direct; azcosmos always uses the
// gateway), userAgentSuffix. `preferredLocations` (comma-separated regions) is a binding property.
//
// # Tests
//
// The tests run against @vercel/cosmosdb-server behind the project's launcher
// (internal/emulator.StartCosmosFeed, emulators/cosmos-launcher), which adds an incremental change
// feed and several feed ranges to the stock server.
package cosmos
