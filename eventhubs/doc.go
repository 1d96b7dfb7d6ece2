// Package eventhubs is azbind's Azure Event Hubs connector: the `eventHubTrigger` trigger and the
// `eventHub` output binding (extension name "eventHubs", host.json section `extensions.eventHubs`),
// built on azeventhubs v2. Importing the package registers them.
//
// # Bindings
//
//	eventHubTrigger  eventHubName, consumerGroup ("$Default"), connection, cardinality ("one" or
//	                 "many"), dataType
//	eventHub         eventHubName, connection, partitionKey (binding expressions allowed)
//
// `connection` resolves for connection.EventHubs: a connection string, whose EntityPath overrides
// eventHubName, or an identity section (<name>__fullyQualifiedNamespace plus the credential
// properties). Go API: Trigger and Output.
//
// # Trigger
//
// Partition ownership, load balancing across hosts and checkpoints are the SDK's: an
// azeventhubs.Processor over checkpoints.BlobStore, in the container azure-webjobs-eventhub of
// AzureWebJobsStorage, with the names Functions writes and KEDA reads — the namespace, hub and
// consumer group lower-cased:
//
//	<fqns>/<hub>/<group>/checkpoint/<partition>   metadata offset, sequencenumber
//	<fqns>/<hub>/<group>/ownership/<partition>    metadata ownerid
//
// A partition without a checkpoint falls back to the v4 extension's checkpoint
// <fqns>/<hub>/<group>/<partition> (JSON Offset and SequenceNumber), so a host moved from Azure
// Functions continues where Functions stopped; otherwise it starts at initialOffsetOptions. The
// strategy is greedy, as in Functions. Every owned partition runs in its own goroutine:
// partitions in parallel, events of one partition in order. Single dispatch invokes the function
// once per event, one at a time; `cardinality: many` invokes it with up to maxEventBatchSize
// events, waiting (when minEventBatchSize > 1) for the minimum or maxWaitTime after the first.
//
// Handlers take the body as string, []byte or a JSON-decoded struct, or the event as
// *azeventhubs.ReceivedEventData (or the value), and slices of each for batches. Binding data
// (reference §3.6): PartitionContext (*PartitionContext), PartitionKey, Offset, SequenceNumber,
// EnqueuedTimeUtc, Properties, SystemProperties (the event's system properties plus
// SequenceNumber, Offset, PartitionKey and EnqueuedTimeUtc); batches give the …Array names
// (PartitionKeyArray, OffsetArray, SequenceNumberArray, EnqueuedTimeUtcArray, PropertiesArray,
// SystemPropertiesArray) and PartitionContext; JSON payload members too.
//
// # No silent loss
//
// Functions checkpoints a batch after the function's retry policy whether it succeeded or not,
// and the failed events are gone; Dapr's binding had the same bug (components-contrib#4561).
// Here a batch (or, with single dispatch, an event) that still fails after the retry policy is
// written whole — bodies byte for byte, properties, system properties, positions — with the
// error to host storage (the azure-webjobs-hosts container), one driver.DeadLetter per failed
// batch in the layout every stream trigger shares (driver.DeadLetterPrefix):
//
//	deadletters/<hostId>/<function>/<time>-p<partition>-<first seq>-<last seq>.json
//
// (sequence numbers zero-padded to 20 digits; each event's position and properties in
// EventMetadata). Batches of the older layout (LegacyDeadLetterPrefix) are still listed, read and
// replayed. `azbind deadletters` lists, shows and replays them. It is logged at ERROR with that key and counted
// (Stats().DeadLettered and the OpenTelemetry counter azbind.eventhubs.deadlettered on the global
// MeterProvider); only then is the partition checkpointed past it. While the dead letter cannot be
// written, the partition is held and the write retried with back-off: nothing after the failed
// batch is invoked or checkpointed. ListDeadLetters, ReadDeadLetter and Replay read and replay
// them: Replay re-sends the events to their hub (to the same partition, or with their partition
// key), where the trigger processes them again after what the partition holds now, and then
// deletes the dead letter; other consumer groups see the events a second time. An invocation
// cancelled at shutdown is not checkpointed (it is delivered again); nor is anything after this
// host lost the partition, at no request per batch: a batch's checkpoint is written (while the
// next batch runs, one checkpoint at a time) once the next receive shows the partition's link
// still open (a host that claims the partition opens its
// receiver with a higher owner level, which detaches this one) and the Processor's own
// load-balancing listings show no other owner; the stop reads the ownership blob once before its
// final checkpoint. Events prefetched before a steal can still be processed by the old owner
// (duplicates, never loss). A batch that fails on a lost partition is left to the new owner, not
// dead-lettered. An idle host renews an ownership only when it would otherwise risk going stale
// before a failed renewal could be retried (at 20 s of its 30 s at the defaults). The Processor
// runs a round every quarter second, but lists the ownership blobs only once per
// loadBalancingUpdateInterval — sooner when the last listing shows an unowned partition or an
// ownership past its expiry — so a killed host's partitions are claimed within a third of a second
// of their expiry (30 s after the last renewal at the defaults; a kill comes after it, so ≤ 30 s
// after the kill plus the claim) at the request rate of the configured interval.
//
// A start that fails — an event hub or consumer group that does not exist (the consumer group is
// probed once per start: the SDK's Processor only logs its link's amqp:not-found and idles), a
// key the namespace refuses, a namespace that cannot be reached, the checkpoint store failing —
// is logged at ERROR once per outage with its cause, retried with back-off (DEBUG while it
// lasts), and logged at INFO when the trigger recovers. consumerGroup must be a JSON string.
// initialOffsetOptions.enqueuedTimeUtc is read as .NET's DateTimeOffset.Parse does
// ("2020-09-13T12:00Z", "2020-09-13 12:00:00Z", offsets, dates alone; no offset means UTC).
// Events already settled are checkpointed when a partition stops, so a graceful restart repeats
// nothing.
//
// # host.json extensions.eventHubs
//
//	maxEventBatchSize        100
//	minEventBatchSize        1 (1..maxEventBatchSize; batches only)
//	maxWaitTime              "00:01:00" (0..10 min; only with minEventBatchSize > 1)
//	batchCheckpointFrequency 1 (checkpoint every n-th batch; at least 1)
//	prefetchCount            300 (0 disables prefetch)
//	partitionOwnershipExpirationInterval "00:00:30"; loadBalancingUpdateInterval "00:00:10"
//	loadBalancingStrategy    "greedy" (not a Functions key; "balanced" also accepted)
//	initialOffsetOptions     {type: fromStart (default) | fromEnd | fromEnqueuedTime, enqueuedTimeUtc}
//	(binding data: PartitionContext and TriggerPartitionContext, the same value)
//	targetUnprocessedEventThreshold  target events per instance for scaling (default maxEventBatchSize)
//	clientRetryOptions       {mode, delay, maximumDelay, maximumRetries} (tryTimeout has no Go equivalent)
//
// Functions keys without effect here: prefetchSizeInBytes, transportType, webProxy,
// customEndpointAddress, trackLastEnqueuedEventProperties. The section is decoded once per host;
// the output reads only clientRetryOptions, so a bad trigger setting does not fail outputs.
//
// # Output
//
// Add takes *azeventhubs.EventData (or the value, or a received event), string, []byte, a JSON
// value; Flush — after the invocation succeeded, never for a failed one — sends them in order in
// SDK EventDataBatches, a new batch whenever one is full, with the binding's partitionKey.
//
// # Clients and scaling
//
// The SDK binds one AMQP connection to one hub (and consumer group), so a host holds one producer
// per namespace, credential and hub (a driver.Shared value, closed after the drain) and each
// trigger its own consumer client (closed with the trigger; its owner id is the Processor's).
// azeventhubs v2.0.2's ConsumerClient.Close leaves the token renewer of its management link
// running until its next refresh, when it finds the client closed and ends (conformance_test.go lists it for the kit's Lifecycle test). The trigger implements driver.Scaler:
// the backlog is the events after each partition's checkpoint (from the partition properties),
// the target per instance targetUnprocessedEventThreshold or maxEventBatchSize. Check (used by
// `azbind connection resolve --check`) reads the hub's properties, or — without an EntityPath —
// asks for a hub that does not exist, where "not found" proves the credential.
//
// # Checklist rows
//
// §3.6 function.json properties, EntityPath override, metadata names, host.json keys and
// defaults, checkpoint and ownership layout, legacy checkpoints, single/batch dispatch,
// checkpoint frequency, skip on cancellation and ownership loss, producer per hub, scale formula
// (without the cap at the partition count, which driver.ScaleMetrics cannot express).
package eventhubs
