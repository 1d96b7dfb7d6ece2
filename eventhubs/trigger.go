package eventhubs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

type triggerConfig struct {
	EventHubName  string `binding:"eventHubName"`
	ConsumerGroup string `binding:"consumerGroup"`
}

type paramKind int

const (
	paramBody paramKind = iota
	paramEventPtr
	paramEvent
)

var (
	eventPtrType = reflect.TypeFor[*azeventhubs.ReceivedEventData]()
	eventType    = reflect.TypeFor[azeventhubs.ReceivedEventData]()
)

// Stats are a trigger's counters since it was built.
type Stats struct {
	Invocations  int64 // Execute calls
	Failed       int64 // invocations that failed after the retry policy
	Checkpoints  int64 // checkpoints written
	DeadLettered int64 // batches written to the dead-letter location
}

type trigger struct {
	fn, hostID       string
	connName         string // the binding's connection setting name, for dead letters
	fqns, hub, group string
	opts             Options
	many             bool
	kind             paramKind
	ownerID          string
	consumer         *azeventhubs.ConsumerClient
	cc               *container.Client
	store            *store
	dead             driver.HostStorage
	clock            driver.Clock
	logger           *slog.Logger

	invocations, failed, checkpoints, deadLettered atomic.Int64
	deadMetric                                     metric.Int64Counter

	closeOnce sync.Once

	outage *driver.Outage // start failures
}

var (
	_ driver.Trigger             = (*trigger)(nil)
	_ driver.Scaler              = (*trigger)(nil)
	_ driver.BindingDataContract = (*trigger)(nil)
)

func newTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg triggerConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.EventHubName, "{}") {
		return nil, bc.Errorf("eventHubName", "use a literal name or %setting%", "%q: a trigger's event hub cannot use {…} expressions", cfg.EventHubName)
	}
	for k, raw := range bc.Spec.Properties {
		if _, isString := raw.(string); strings.EqualFold(k, "consumerGroup") && raw != nil && !isString {
			return nil, bc.Errorf("consumerGroup", `give the consumer group's name as a JSON string, e.g. "$Default" (or "5")`, "must be a string, not %v", raw)
		}
	}
	if strings.ContainsAny(cfg.ConsumerGroup, "{}") {
		return nil, bc.Errorf("consumerGroup", "use a literal name or %setting%", "%q: a trigger's consumer group cannot use {…} expressions", cfg.ConsumerGroup)
	}
	opts, err := triggerOptions(ctx, bc)
	if err != nil {
		return nil, err
	}
	conn, err := bc.Connection(ctx, connection.EventHubs)
	if err != nil {
		return nil, err
	}
	hub := hubOf(conn, cfg.EventHubName)
	if hub == "" {
		return nil, bc.Errorf("eventHubName", "set eventHubName, or EntityPath in the connection string", "is required")
	}
	group := cfg.ConsumerGroup
	if group == "" {
		group = azeventhubs.DefaultConsumerGroup
	}
	dead, err := bc.Host.DurableStorage("eventHubTrigger (checkpoints and dead-lettered batches)")
	if err != nil {
		return nil, err
	}
	cc, err := sharedCheckpointContainer(ctx, bc.Host)
	if err != nil {
		return nil, err
	}
	ownerID := uuid.NewString()
	st, err := newStore(cc, ownerID, opts.LoadBalancingUpdateInterval, opts.PartitionOwnershipExpirationInterval)
	if err != nil {
		return nil, err
	}
	t := &trigger{fn: bc.Function, hostID: bc.Host.HostID, fqns: namespaceOf(conn), hub: hub, group: group, opts: opts, many: bc.Spec.Many(),
		ownerID: ownerID, connName: connectionName(bc.Spec), cc: cc, store: st, dead: dead, clock: bc.Host.Clock}
	t.logger = bc.Host.Logger.With("function", bc.Function, "trigger", "eventHubTrigger", "event_hub", hub, "consumer_group", group)
	t.outage = driver.NewOutage(t.logger, t.clock, "event hub trigger: starting to receive")
	switch bc.Param {
	case eventPtrType:
		t.kind = paramEventPtr
	case eventType:
		t.kind = paramEvent
	}
	t.consumer, err = NewConsumerClient(conn, hub, group, &azeventhubs.ConsumerClientOptions{InstanceID: t.ownerID, RetryOptions: opts.retry})
	if err != nil {
		return nil, &driver.ConfigError{Where: bc.Spec.Where, Field: "connection", Err: err}
	}
	t.deadMetric, _ = bc.Host.Meter.Meter("github.com/azbind/azbind/eventhubs").Int64Counter("azbind.eventhubs.deadlettered",
		metric.WithDescription("Event Hubs batches that failed after the retry policy and were written to the dead-letter location"))
	return t, nil
}

// BindingData implements driver.BindingDataContract.
func (t *trigger) BindingData() []string { return append(append([]string{}, MetadataNames...), "*") }

// Stats returns the trigger's counters.
func (t *trigger) Stats() Stats {
	return Stats{Invocations: t.invocations.Load(), Failed: t.failed.Load(), Checkpoints: t.checkpoints.Load(), DeadLettered: t.deadLettered.Load()}
}

// Close releases the consumer client (and with it its AMQP connection).
func (t *trigger) Close() error {
	var err error
	t.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = t.consumer.Close(ctx)
	})
	return err
}

// Run implements driver.Trigger: the SDK Processor claims and balances partitions; each owned
// partition is processed by its own goroutine. A Processor that fails (the namespace unreachable,
// storage down) is replaced after a back-off; Run returns when ctx is done and every partition
// has settled what it dispatched.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	backoff := time.Second
	for {
		started := time.Now()
		err := t.runProcessor(ctx, exec)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		t.startFailed(err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// startFailed logs a failed start or a stopped Processor through the shared outage rule
// (driver.Outage: ERROR once per outage, DEBUG while it lasts, INFO when it recovers), naming what
// is wrong: a key the namespace refuses, a hub or consumer group that does not exist, a namespace
// that cannot be reached.
func (t *trigger) startFailed(err error, retryIn time.Duration) {
	err = connection.RedactError(err)
	t.outage.Fail(fmt.Errorf("%s: %w", t.diagnose(err), err), slog.Duration("retry_in", retryIn))
}

// recovered ends an outage (INFO).
func (t *trigger) recovered() { t.outage.OK() }

// diagnose names the likely cause of a start failure.
func (t *trigger) diagnose(err error) string {
	var ehErr *azeventhubs.Error
	var gErr *groupNotFoundError
	switch {
	case strings.Contains(err.Error(), "creating container "+CheckpointContainer):
		return "the checkpoint store (AzureWebJobsStorage, container " + CheckpointContainer + ") is unreachable or failing"
	case errors.As(err, &gErr):
		return fmt.Sprintf("consumer group %q does not exist in event hub %q (create it, or fix the binding's consumerGroup)", t.group, t.hub)
	case errors.As(err, &ehErr) && ehErr.Code == azeventhubs.ErrorCodeUnauthorizedAccess, isUnauthorized(err):
		return fmt.Sprintf("namespace %s refused the connection's credential (check the key name and key, or the identity's role)", t.fqns)
	case isNotFound(err):
		return fmt.Sprintf("event hub %q does not exist in namespace %s (create it, or fix eventHubName / EntityPath)", t.hub, t.fqns)
	}
	return fmt.Sprintf("namespace %s is unreachable or failing", t.fqns)
}

func isUnauthorized(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "unauthorized") || strings.Contains(s, "status code 401") || strings.Contains(s, "invalidsignature") || strings.Contains(s, "amqp:unauthorized-access")
}

// groupNotFoundError is a consumer group the namespace does not know.
type groupNotFoundError struct{ err error }

func (e *groupNotFoundError) Error() string { return "consumer group not found: " + e.err.Error() }
func (e *groupNotFoundError) Unwrap() error { return e.err }

// probeGroup opens a receiver (no owner level, from the latest event) on the first partition:
// the SDK's Processor only logs a consumer group the namespace does not know (amqp:not-found at
// link attach) and then idles, so the trigger asks once per start. Any other answer — a
// receiver that attaches, or one refused because another host's Processor holds the partition
// — shows the group exists.
func (t *trigger) probeGroup(ctx context.Context, pid string) error {
	pc, err := t.consumer.NewPartitionClient(pid, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Latest: to.Ptr(true)}, Prefetch: -1})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = pc.Close(cctx)
	}()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = pc.ReceiveEvents(rctx, 1, nil)
	if err != nil && rctx.Err() == nil && isNotFound(err) {
		return &groupNotFoundError{err}
	}
	return nil
}

func (t *trigger) runProcessor(ctx context.Context, exec driver.Executor) error {
	if err := ensureContainer(ctx, t.cc); err != nil {
		return err
	}
	props, err := t.consumer.GetEventHubProperties(ctx, nil)
	if err != nil {
		return fmt.Errorf("eventhubs: reading event hub %q: %w", t.hub, err)
	}
	if len(props.PartitionIDs) > 0 {
		if err := t.probeGroup(ctx, props.PartitionIDs[0]); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	t.recovered()
	proc, err := azeventhubs.NewProcessor(t.consumer, t.store, &azeventhubs.ProcessorOptions{
		LoadBalancingStrategy:       azeventhubs.ProcessorStrategy(t.opts.LoadBalancingStrategy),
		UpdateInterval:              processorRound(t.opts.LoadBalancingUpdateInterval),
		PartitionExpirationDuration: t.opts.PartitionOwnershipExpirationInterval,
		StartPositions:              azeventhubs.StartPositions{Default: t.opts.startPosition()},
		Prefetch:                    t.opts.prefetch(),
	})
	if err != nil {
		return fmt.Errorf("eventhubs: processor: %w", err)
	}
	// Partitions stop fetching when ctx ends; the Processor keeps renewing ownership until they
	// have settled (and checkpointed) what they dispatched, then relinquishes it.
	partCtx, stopParts := context.WithCancel(ctx)
	defer stopParts()
	procCtx, stopProc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProc()
	procDone := make(chan error, 1)
	go func() {
		err := proc.Run(procCtx)
		stopParts()
		procDone <- err
	}()
	var wg sync.WaitGroup
	for {
		pc := proc.NextPartitionClient(partCtx)
		if pc == nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.partition(partCtx, pc, exec)
		}()
	}
	wg.Wait()
	stopProc()
	return <-procDone
}

// partition processes one owned partition until ctx ends or the partition is lost.
//
// Ownership costs no request per batch: a batch's checkpoint is written once the next receive
// shows the partition's link still open (events arrive, or a short wait ends quietly). A host
// that claims the partition opens its receiver with a higher owner level, which detaches this
// one (ErrorCodeOwnershipLost); and the Processor's own load-balancing rounds, which list the
// ownership blobs anyway, report a partition now owned by another host (store.lostTo). Either
// way the pending checkpoint is not written. Only the stop reads the ownership blob, once,
// before its final checkpoint.
func (t *trigger) partition(ctx context.Context, pc *azeventhubs.ProcessorPartitionClient, exec driver.Executor) {
	pid := pc.PartitionID()
	log := t.logger.With("partition", pid)
	pctx := &PartitionContext{FullyQualifiedNamespace: t.fqns, EventHubName: t.hub, ConsumerGroup: t.group, PartitionID: pid}
	log.Debug("partition claimed")
	t.store.claimed(pid)
	var pending *azeventhubs.ReceivedEventData // settled, not yet checkpointed
	var due *azeventhubs.ReceivedEventData     // to checkpoint once the link is seen open
	var inflight chan bool                     // the checkpoint being written (its result: still owned)
	batches := 0
	defer func() {
		if inflight != nil && !<-inflight {
			pending = nil
		}
		if pending != nil {
			t.finalCheckpoint(ctx, pc, pid, pending, log)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = pc.Close(cctx)
		log.Debug("partition released")
	}()
	for ctx.Err() == nil {
		evs, err := t.receive(ctx, pc, due != nil)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ehErr *azeventhubs.Error
			if errors.As(err, &ehErr) && ehErr.Code == azeventhubs.ErrorCodeOwnershipLost {
				if pending != nil {
					log.Info("partition ownership lost; not checkpointing", "sequence_number", pending.SequenceNumber)
					pending = nil
				} else {
					log.Info("partition ownership lost to another host")
				}
			} else {
				log.Warn("receiving from partition failed; the processor reopens it", "error", err)
			}
			return
		}
		if due != nil {
			// One checkpoint at a time, written while the next batch runs: the previous one
			// must have finished (and found the partition still owned) first.
			if inflight != nil {
				owned := <-inflight
				inflight = nil
				if !owned {
					pending = nil
					return
				}
			}
			d, done := due, make(chan bool, 1)
			go func() { done <- t.checkpoint(ctx, pc, pid, d, log) }()
			inflight = done
			if pending == due {
				pending = nil
			}
			due = nil
		}
		if len(evs) == 0 {
			continue
		}
		last, stop := t.dispatch(ctx, pctx, evs, exec, log)
		if last != nil {
			pending = last
			batches++
			if batches%t.opts.BatchCheckpointFrequency == 0 {
				due = last
			}
		}
		if stop {
			return
		}
	}
}

// quietWait is how long a receive waits before a pending checkpoint is written anyway (the link
// is then known to be open: a detached one answers at once).
const quietWait = 50 * time.Millisecond

// receive waits for events: at least one (or minEventBatchSize, for up to maxWaitTime after the
// first), then whatever else is already prefetched, up to maxEventBatchSize. With quick, it
// returns no events and no error after quietWait without events. Events received when ctx ends
// are dropped, undispatched and not checkpointed.
func (t *trigger) receive(ctx context.Context, pc *azeventhubs.ProcessorPartitionClient, quick bool) ([]*azeventhubs.ReceivedEventData, error) {
	// Single dispatch receives in batches too; their events are invoked one at a time.
	maxN := t.opts.MaxEventBatchSize
	var evs []*azeventhubs.ReceivedEventData
	for len(evs) == 0 {
		wait := 30 * time.Second
		if quick {
			wait = quietWait
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		got, err := pc.ReceiveEvents(wctx, 1, nil)
		timedOut := wctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(got) > 0 {
			evs = got
			break
		}
		if err != nil && !timedOut {
			return nil, err
		}
		if quick {
			return nil, nil
		}
	}
	minN := t.opts.MinEventBatchSize
	if t.many && minN > 1 {
		deadline := time.Now().Add(t.opts.MaxWaitTime)
		for len(evs) < minN && time.Until(deadline) > 0 {
			wctx, cancel := context.WithDeadline(ctx, deadline)
			got, err := pc.ReceiveEvents(wctx, minN-len(evs), nil)
			timedOut := wctx.Err() != nil
			cancel()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			evs = append(evs, got...)
			if err != nil && !timedOut {
				break // dispatch what we have; the next receive reports the error
			}
		}
	}
	if len(evs) < maxN {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		got, _ := pc.ReceiveEvents(tctx, maxN-len(evs), nil)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		evs = append(evs, got...)
	}
	return evs, nil
}

func (t *trigger) data(e *azeventhubs.ReceivedEventData) any {
	switch t.kind {
	case paramEventPtr:
		return e
	case paramEvent:
		return *e
	}
	return e.Body
}

// dispatch invokes the function for evs (one invocation per event in order, or one for the batch)
// and returns the last event that is settled — succeeded, or failed and dead-lettered — and
// whether the partition must stop (an invocation was cancelled: shutdown).
func (t *trigger) dispatch(ctx context.Context, pctx *PartitionContext, evs []*azeventhubs.ReceivedEventData, exec driver.Executor, log *slog.Logger) (last *azeventhubs.ReceivedEventData, stop bool) {
	if t.many {
		ev := &driver.Event{Metadata: batchMetadata{pc: pctx, evs: evs},
			ID: fmt.Sprintf("%s:%d-%d", pctx.PartitionID, evs[0].SequenceNumber, evs[len(evs)-1].SequenceNumber)}
		ev.Batch = make([]any, len(evs))
		for i, e := range evs {
			ev.Batch[i] = t.data(e)
		}
		if !t.settle(ctx, pctx, evs, exec.Execute(ctx, ev), log) {
			return nil, true
		}
		return evs[len(evs)-1], false
	}
	for _, e := range evs {
		if ctx.Err() != nil {
			return last, true // shutting down: the rest of the received batch is not dispatched
		}
		ev := &driver.Event{Data: t.data(e), Payload: e.Body, Metadata: singleMetadata(pctx, e), ID: pctx.PartitionID + ":" + strconv.FormatInt(e.SequenceNumber, 10)}
		if !t.settle(ctx, pctx, []*azeventhubs.ReceivedEventData{e}, exec.Execute(ctx, ev), log) {
			return last, true
		}
		last = e
	}
	return last, false
}

// settle acts on an invocation's result and reports whether its events may be checkpointed past.
// Failed: the batch is written, whole and with the error, to the dead-letter location; while
// that write fails the partition is held (retried with back-off), never skipped.
func (t *trigger) settle(ctx context.Context, pctx *PartitionContext, evs []*azeventhubs.ReceivedEventData, res driver.Result, log *slog.Logger) bool {
	t.invocations.Add(1)
	switch res.Status {
	case driver.Succeeded:
		return true
	case driver.Cancelled:
		return false
	}
	t.failed.Add(1)
	// A host that lost the partition meanwhile leaves the events to the new owner, which starts
	// from the last checkpoint and processes them again.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	owned, err := t.store.owns(octx, t.fqns, t.hub, t.group, pctx.PartitionID, t.ownerID)
	cancel()
	if err == nil && !owned {
		log.Warn("event hub batch failed after this host lost the partition; the new owner processes it again",
			"first_sequence_number", evs[0].SequenceNumber, "last_sequence_number", evs[len(evs)-1].SequenceNumber, "error", res.Err)
		return false
	}
	dl := t.newDeadLetter(pctx, evs, res.Err, t.clock.Now())
	id := deadLetterID(pctx.PartitionID, evs[0].SequenceNumber, evs[len(evs)-1].SequenceNumber)
	backoff := time.Second
	for {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := driver.WriteDeadLetter(wctx, t.dead, dl, id)
		cancel()
		if err == nil {
			t.deadLettered.Add(1)
			if t.deadMetric != nil {
				t.deadMetric.Add(context.WithoutCancel(ctx), 1, metric.WithAttributes(attribute.String("function", t.fn), attribute.String("event_hub", t.hub), attribute.String("partition", pctx.PartitionID)))
			}
			log.Error("event hub batch failed after the retry policy; dead-lettered, the partition moves on",
				"dead_letter", dl.Key, "sequence_numbers", sequenceRange(dl), "events", len(evs), "error", res.Err)
			return true
		}
		log.Error("event hub batch failed and could not be dead-lettered; holding the partition (nothing is checkpointed past it)",
			"sequence_numbers", sequenceRange(dl), "error", res.Err, "dead_letter_error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// connectionName is the binding's connection setting name as declared.
func connectionName(b *driver.BindingSpec) string {
	if b.RawConnection != "" {
		return b.RawConnection
	}
	return b.Connection()
}

// checkpoint records e as the partition's position unless the Processor's last look at the
// ownership blobs found another owner; it reports false when the partition was lost.
func (t *trigger) checkpoint(ctx context.Context, pc *azeventhubs.ProcessorPartitionClient, pid string, e *azeventhubs.ReceivedEventData, log *slog.Logger) bool {
	if owner, lost := t.store.lostTo(pid); lost {
		log.Info("partition ownership lost; not checkpointing", "sequence_number", e.SequenceNumber, "owner", owner)
		return false
	}
	return t.writeCheckpoint(ctx, pc, e, log)
}

// finalCheckpoint is the stop's checkpoint: the link may be closed by then, so the ownership
// blob is read once.
func (t *trigger) finalCheckpoint(ctx context.Context, pc *azeventhubs.ProcessorPartitionClient, pid string, e *azeventhubs.ReceivedEventData, log *slog.Logger) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	owned, err := t.store.owns(cctx, t.fqns, t.hub, t.group, pid, t.ownerID)
	if err != nil {
		log.Warn("could not read partition ownership; not checkpointing (events since the last checkpoint may be processed again)", "error", err)
		return
	}
	if !owned {
		log.Info("partition ownership lost; not checkpointing", "sequence_number", e.SequenceNumber)
		return
	}
	t.writeCheckpoint(cctx, pc, e, log)
}

func (t *trigger) writeCheckpoint(ctx context.Context, pc *azeventhubs.ProcessorPartitionClient, e *azeventhubs.ReceivedEventData, log *slog.Logger) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := pc.UpdateCheckpoint(cctx, e, nil); err != nil {
		log.Warn("checkpoint failed (events since the last checkpoint may be processed again)", "sequence_number", e.SequenceNumber, "error", err)
		return true
	}
	t.checkpoints.Add(1)
	return true
}

// Scale implements driver.Scaler: unprocessed events across partitions (last enqueued sequence
// number minus the checkpoint's) and Functions' target per instance.
func (t *trigger) Scale(ctx context.Context) (driver.ScaleMetrics, error) {
	props, err := t.consumer.GetEventHubProperties(ctx, nil)
	if err != nil {
		if isNotFound(err) {
			return driver.ScaleMetrics{TargetPerInstance: t.opts.target()}, nil // a missing hub has no backlog
		}
		return driver.ScaleMetrics{}, fmt.Errorf("eventhubs: hub properties: %w", err)
	}
	cps, err := t.store.checkpointMap(ctx, t.fqns, t.hub, t.group)
	if err != nil {
		return driver.ScaleMetrics{}, fmt.Errorf("eventhubs: checkpoints: %w", err)
	}
	var backlog int64
	for _, pid := range props.PartitionIDs {
		pp, err := t.consumer.GetPartitionProperties(ctx, pid, nil)
		if err != nil {
			return driver.ScaleMetrics{}, fmt.Errorf("eventhubs: partition %s properties: %w", pid, err)
		}
		backlog += unprocessed(pp, cps[pid])
	}
	return driver.ScaleMetrics{Backlog: backlog, TargetPerInstance: t.opts.target()}, nil
}

// unprocessed is a partition's events after its checkpoint (all of them without one).
func unprocessed(pp azeventhubs.PartitionProperties, cp azeventhubs.Checkpoint) int64 {
	if pp.IsEmpty {
		return 0
	}
	var n int64
	if cp.SequenceNumber != nil {
		n = pp.LastEnqueuedSequenceNumber - *cp.SequenceNumber
	} else {
		n = pp.LastEnqueuedSequenceNumber - pp.BeginningSequenceNumber + 1
	}
	return max(n, 0)
}
