// Package servicebus is azbind's Azure Service Bus connector: the `serviceBusTrigger` trigger and
// the `serviceBus` output binding, built on azservicebus (reference §3.5, Functions extension v5).
// Importing the package registers the bindings (extension name "serviceBus", the host.json
// section `extensions.serviceBus`) and the connection check of `azbind connection resolve --check`.
//
// # Connection
//
// `connection` names a setting holding a Service Bus connection string, or a section with
// `<name>__fullyQualifiedNamespace` and the identity properties; it defaults to ServiceBus, i.e.
// AzureWebJobsServiceBus (unprefixed names are looked up first, as in Functions). A host opens one
// AMQP connection per namespace and credential, shared by every Service Bus binding of the host
// and closed when the host stops. Errors and logs never show the key: the AMQP client does not
// take azcore options, so everything it says passes the connection's one scrub boundary
// (connection.Scrubber: the trigger's logger, and every error the connector returns).
//
// # Trigger
//
// Properties: `queueName`, or `topicName` + `subscriptionName` (%setting% allowed, no {…});
// `connection`; `isSessionsEnabled`; `autoCompleteMessages` (overrides host.json);
// `cardinality` "many" for batches; `maxMessageBatchSize` (overrides host.json).
//
// Single dispatch runs up to maxConcurrentCalls invocations at once (16 × processors), each
// message in peek-lock. A handler's slot is free for the next message once the handler returned:
// the settlement, a round trip to the service, runs beside the next invocations (at most
// 2 × maxConcurrentCalls settling), so handlers never wait on completions and up to
// 3 × maxConcurrentCalls messages can be locked at once — the Functions processor settles inside
// the slot (a deliberate difference: at the defaults the trigger outpaces a receive-complete loop
// of the same concurrency; see the README's benchmark). Within a session a message keeps its slot
// until settled. Its lock is renewed while the handler runs, up to
// maxAutoLockRenewalDuration (5 min; renewed when the remaining time falls under
// min(10 s, half of it), as the Functions processor). Settlement follows Functions:
//
//   - Succeeded and autoCompleteMessages (default true) ⇒ complete; with autoCompleteMessages
//     false the handler settles (or the lock expires and the message comes back).
//   - Failed (after the function's retry policy) ⇒ abandon: the message comes back at once with
//     DeliveryCount+1, and the service dead-letters it at the entity's maxDeliveryCount
//     (MaxDeliveryCountExceeded). The connector itself never dead-letters.
//   - Cancelled (the host stopped before the invocation ended) ⇒ abandon at once, not after the
//     lock expires. Settlement never uses the Run context: it also runs during the drain.
//   - A message whose lock was lost is not settled; the log says so and Service Bus delivers it
//     again.
//
// Batch dispatch (`cardinality: many`) receives up to maxMessageBatchSize (1000) messages per
// invocation, one batch at a time; with minMessageBatchSize > 1 it waits for that many until
// maxBatchWaitTime (30 s) has passed since the first. Success + auto-complete completes every
// message the handler did not settle; failure abandons them all, whatever autoCompleteMessages
// says. Locks are not renewed for batches (as Functions).
//
// Sessions (`isSessionsEnabled`): up to maxConcurrentSessions (8) sessions are held at once, each
// with up to maxConcurrentCallsPerSession (1) invocations, so a session's messages are handled one
// at a time in order while sessions run in parallel. The session lock is renewed while the
// session is held; a session is released after sessionIdleTimeout without a message (default
// clientRetryOptions.tryTimeout, 60 s) or when the handler calls SessionActions.Release.
//
// prefetchCount (0): the Go SDK has no prefetch buffer; the trigger asks for up to prefetchCount
// messages more than it has free handler slots, and those wait with their locks running.
//
// # Handler parameters
//
// The message as string, []byte, a JSON-decoded struct or map, or *azservicebus.ReceivedMessage
// (for batches, a slice of those). Besides, by type (driver.BindingType.Extras) in any position:
// *MessageActions — complete, abandon with properties to modify, dead-letter with reason and
// description, defer, renew the lock; what the handler settled is never settled again — and, with
// sessions, *SessionActions — session state get/set, session lock renewal, release. ActionsFrom and
// SessionFrom give the same values from the invocation's context.
//
// Binding data (MetadataNames): DeliveryCount, DeadLetterSource, LockToken, ExpiresAtUtc,
// ExpiresAt, EnqueuedTimeUtc, EnqueuedTime, MessageId, ContentType, ReplyTo, SequenceNumber, To,
// Subject (and Label), CorrelationId, ApplicationProperties (and UserProperties), SessionId,
// ReplyToSessionId, PartitionKey, TransactionPartitionKey, plus MessageActions (also as
// MessageReceiver and ReceiveActions), SessionActions (also as MessageSession) and Client (the
// *azservicebus.Client), and the top-level members of a JSON body. For batches the message names
// take the suffix Array (MessageIdArray, …): one element per message, nil where a message lacks
// the field, present even when no message has it.
//
// # Output
//
// `serviceBus` with `queueName` or `topicName` ({binding data} and %setting% allowed). Items are
// string, []byte, a value sent as JSON (content type application/json), *azservicebus.Message or
// azservicebus.Message (message id, session id, application properties, scheduled enqueue time,
// time to live, correlation id, …) or *azservicebus.ReceivedMessage (forwarded). They are held
// until the invocation succeeded (Flush) and sent as SDK batches split at the size limit and where
// the session id or partition key changes; a message with a scheduled enqueue time is sent alone.
// A failed invocation sends nothing.
//
// # host.json extensions.serviceBus
//
// prefetchCount (0), autoCompleteMessages (true), maxAutoLockRenewalDuration ("00:05:00"; a
// negative value such as "-00:00:00.0010000" renews without limit, "00:00:00" not at all),
// maxConcurrentCalls (16 × processors), maxConcurrentSessions (8), maxConcurrentCallsPerSession
// (1), maxMessageBatchSize (1000), minMessageBatchSize (1), maxBatchWaitTime ("00:00:30", at most
// 2.5 min), sessionIdleTimeout (tryTimeout), transportType ("amqpTcp" only),
// enableCrossEntityTransactions (false only), and clientRetryOptions {mode "exponential"|"fixed",
// tryTimeout "00:01:00", delay "00:00:00.8", maxDelay "00:01:00", maxRetries 3}, mapped onto
// azservicebus.RetryOptions (tryTimeout bounds each settlement, renewal and session accept).
// Out-of-range values are *driver.ConfigError values naming the key.
//
// # Scale
//
// The trigger is a driver.Scaler: backlog = the entity's active message count (administration
// API: needs Manage rights), target per instance = maxConcurrentCalls, maxConcurrentSessions with
// sessions, or maxMessageBatchSize for batches (reference §5.6).
package servicebus
