// Package queue is azbind's Azure Queue Storage connector: the `queueTrigger` trigger, the `queue`
// output binding and the `queue` input binding that hands the handler a *azqueue.QueueClient.
// Importing the package registers the bindings (extension name "queues", the host.json section
// `extensions.queues`).
//
// The trigger polls as the Azure Functions queue listener does (checklist C20–C27): it receives
// batches of up to BatchSize messages (default 16, at most 32) with a 30-second visibility that is
// renewed at half-interval while the handler runs (Functions uses 10 minutes: azbind's shorter
// receive visibility means the messages of a host that crashes or is killed mid-handler reach
// another receiver after about 30 s instead of 10 minutes, measured by TestKilledHostRecoveryTime;
// a handler that finishes within 15 s costs no renewal request), fetches the next batch as soon as no more than
// NewBatchThreshold messages are in flight (default BatchSize/2 × processors), backs off
// exponentially with jitter from 100 ms to maxPollingInterval (default 1 minute) while the queue is
// empty, deletes a message when its invocation succeeds, makes it visible again after
// visibilityTimeout when it fails, and moves it byte for byte to `<queue>-poison` once its dequeue
// count reaches maxDequeueCount (default 5). Messages are base64 by default (messageEncoding
// "base64"); with "none" the text is used as is. A message that does not decode is poisoned at
// once and logged at error level with its id.
//
// host.json `extensions.queues` keys: batchSize (16, 1–32), newBatchThreshold (batchSize/2 ×
// processors), maxPollingInterval ("00:01:00", at least 100 ms), visibilityTimeout ("00:00:00"),
// maxDequeueCount (5), messageEncoding ("base64" or "none", for the trigger and the output), and two
// keys Functions does not have: failureBackoff (false; when true the visibility after a failure
// doubles with each dequeue, starting from max(visibilityTimeout, 1 s), as asked for in
// azure-webjobs-sdk#1040), maxFailureBackoff ("00:10:00", its cap) and receiveVisibility
// ("00:00:30", 1 s to 7 days: the receive visibility above).
//
// Queue names in bindings are lower-cased, as WebJobs does ("Orders" reads the queue orders;
// "shipped-{ID}" with ID "A1" writes to shipped-a1), then validated. A message that is not valid
// UTF-8 does not bind to a string parameter (the attempt fails and the message is poisoned after
// maxDequeueCount); take []byte or *queue.Message for binary content.
//
// While the queue is deep, receives may overlap, always within the Functions bound of batchSize +
// newBatchThreshold messages in flight per host; this is what lets the trigger keep pace with a
// hand-tuned SDK loop. The queue's existence is checked once and cached until a storage error.
//
// The polling engine is exported as Listener so that other connectors (the blob trigger's internal
// queue) reuse it. A host's listeners are woken out of their back-off when the same host writes
// to their queue, through the host's Hub (HubFor); connectors that hand work to a queue use
// Enqueue, which sends and wakes. The trigger reports its backlog (driver.Scaler): the
// approximate message count, batchSize messages per instance.
//
// Handlers receive the message body as string, []byte or a JSON-decoded struct, or the whole
// message as *queue.Message (or queue.Message). Binding data for expressions: QueueTrigger,
// DequeueCount, ExpirationTime, Id, InsertionTime, NextVisibleTime, PopReceipt, plus the top-level
// properties of a JSON payload when the handler takes a struct or a map.
package queue
