package servicebus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension/driver"
)

// bindingConfig is the serviceBusTrigger / serviceBus binding as declared.
type bindingConfig struct {
	QueueName           string `binding:"queueName"`
	TopicName           string `binding:"topicName"`
	SubscriptionName    string `binding:"subscriptionName"`
	IsSessionsEnabled   bool   `binding:"isSessionsEnabled"`
	MaxMessageBatchSize int    `binding:"maxMessageBatchSize"`
}

type paramKind int

const (
	paramBody paramKind = iota
	paramMessage
)

var receivedMessageType = reflect.TypeFor[*azservicebus.ReceivedMessage]()

// stats count what a trigger did (for debugging).
type stats struct {
	received, invocations, completed, abandoned, settleErrors, handlerSettled,
	renewals, renewalErrors, locksLost, receiveErrors, sessionsAccepted, sessionsReleased atomic.Int64
}

// trigger is the serviceBusTrigger binding.
type trigger struct {
	fn, where    string
	queue        string
	topic, sub   string
	sessions     bool
	batch        bool
	autoComplete bool
	opts         Options // with defaults
	client       *sharedClient
	kind         paramKind
	log          *slog.Logger
	st           stats
	runCtx       atomic.Pointer[context.Context]
	// shutdownAbandons counts messages abandoned after Run's context ended.
	shutdownAbandons atomic.Int64
	// creditAtStop: a receive loop ended by the stop may have left credit on its link.
	creditAtStop atomic.Bool
	out          *driver.Outage // receive failures
	// count reads the active message count for Scale (tests replace it).
	count func(ctx context.Context) (int64, error)
}

var (
	_ driver.BindingDataContract = (*trigger)(nil)
	_ driver.Scaler              = (*trigger)(nil)
)

// BindingData implements driver.BindingDataContract.
func (t *trigger) BindingData() []string {
	names := make([]string, 0, len(MetadataNames)+1)
	for _, n := range MetadataNames {
		if t.batch && !isObjectName(n) {
			n += "Array"
		}
		names = append(names, n)
	}
	return append(names, "*")
}

func newTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg bindingConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	if err := checkEntityNames(bc, cfg, true); err != nil {
		return nil, err
	}
	sec, err := hostSection(ctx, bc)
	if err != nil {
		return nil, err
	}
	if sec.err != nil {
		return nil, sec.err
	}
	opts := sec.opts
	if v, ok := bc.Spec.Prop("autoCompleteMessages"); ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, bc.Errorf("autoCompleteMessages", "use true or false", "must be a boolean")
		}
		opts.AutoCompleteMessages = &b
	}
	if cfg.MaxMessageBatchSize < 0 || cfg.MaxMessageBatchSize > maxReceive {
		return nil, bc.Errorf("maxMessageBatchSize", fmt.Sprintf("use a whole number from 1 to %d", maxReceive), "%d is out of range", cfg.MaxMessageBatchSize)
	}
	if cfg.MaxMessageBatchSize > 0 {
		opts.MaxMessageBatchSize = cfg.MaxMessageBatchSize
	}
	opts = opts.withDefaults()
	cl, err := bindingClient(ctx, bc, opts.ClientRetryOptions)
	if err != nil {
		return nil, err
	}
	field := "queueName"
	if cfg.TopicName != "" {
		field = "topicName"
	}
	t := &trigger{
		fn: bc.Function, where: bc.Spec.Where,
		queue: cfg.QueueName, topic: cfg.TopicName, sub: cfg.SubscriptionName,
		sessions: cfg.IsSessionsEnabled, batch: bc.Spec.Many(),
		autoComplete: *opts.AutoCompleteMessages, opts: opts, client: cl,
	}
	if err := checkEntityPath(bc, cl.conn, field, t.entity()); err != nil {
		return nil, err
	}
	if bc.Param == receivedMessageType {
		t.kind = paramMessage
	}
	t.log = cl.scrub.Logger(bc.Host.Logger).With("function", bc.Function, "trigger", "serviceBusTrigger", "entity", t.entity())
	t.out = driver.NewOutage(t.log, bc.Host.Clock, "receiving from "+t.entity())
	t.count = t.activeMessageCount
	return t, nil
}

// checkEntityNames checks queueName / topicName (+ subscriptionName).
func checkEntityNames(bc *driver.BindContext, cfg bindingConfig, trigger bool) error {
	switch {
	case cfg.QueueName != "" && cfg.TopicName != "":
		return bc.Errorf("queueName", "declare either queueName or topicName", "queueName and topicName are both set")
	case cfg.QueueName == "" && cfg.TopicName == "":
		if trigger {
			return bc.Errorf("queueName", "add \"queueName\", or \"topicName\" and \"subscriptionName\"", "is required")
		}
		return bc.Errorf("queueName", "add \"queueName\" or \"topicName\"", "is required")
	}
	if !trigger {
		return nil
	}
	if cfg.TopicName != "" && cfg.SubscriptionName == "" {
		return bc.Errorf("subscriptionName", "add the subscription to receive from", "is required with topicName")
	}
	if cfg.QueueName != "" && cfg.SubscriptionName != "" {
		return bc.Errorf("subscriptionName", "remove it, or use topicName instead of queueName", "is set with queueName")
	}
	for _, f := range []struct{ field, v string }{{"queueName", cfg.QueueName}, {"topicName", cfg.TopicName}, {"subscriptionName", cfg.SubscriptionName}} {
		if strings.ContainsAny(f.v, "{}") {
			return bc.Errorf(f.field, "use a literal name or %setting%", "%q: a trigger's entity cannot use {…} expressions", f.v)
		}
	}
	return nil
}

func (t *trigger) entity() string {
	if t.queue != "" {
		return t.queue
	}
	return t.topic + "/Subscriptions/" + t.sub
}

func (t *trigger) newReceiver() (*azservicebus.Receiver, error) {
	if t.queue != "" {
		return t.client.NewReceiverForQueue(t.queue, nil)
	}
	return t.client.NewReceiverForSubscription(t.topic, t.sub, nil)
}

func (t *trigger) acceptNextSession(ctx context.Context) (*azservicebus.SessionReceiver, error) {
	if t.queue != "" {
		return t.client.AcceptNextSessionForQueue(ctx, t.queue, nil)
	}
	return t.client.AcceptNextSessionForSubscription(ctx, t.topic, t.sub, nil)
}

// Run implements driver.Trigger.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	t.runCtx.Store(&ctx)
	if t.sessions {
		var wg sync.WaitGroup
		for range t.opts.MaxConcurrentSessions {
			wg.Go(func() { t.sessionWorker(ctx, exec) })
		}
		wg.Wait()
		return nil
	}
	var bo backoff
	for {
		if err := t.runReceiver(ctx, exec); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		// The receiver was closed under the loop (a permanent link error): start a new one.
		bo.wait(ctx)
	}
}

// runReceiver runs the receive loop on one receiver until ctx ends or the receiver is closed.
func (t *trigger) runReceiver(ctx context.Context, exec driver.Executor) error {
	r, err := t.newReceiver()
	if err != nil {
		return t.client.scrub.Errorf("%s: %w", t.where, err)
	}
	defer func() {
		// A message abandoned at shutdown may be offered again at once on this receiver's
		// remaining link credit, and a message in flight when the link closes stays locked until
		// its lock expires. The SDK releases (without counting a delivery) what arrives between
		// receives: give it a moment to return those before the link closes.
		if t.shutdownAbandons.Load() > 0 || t.creditAtStop.Load() {
			time.Sleep(releaseGrace)
		}
		t.closeReceiver(r)
	}()
	if t.batch {
		t.batchLoop(ctx, exec, r, r, r.RenewMessageLock, nil, nil)
		return nil
	}
	t.singleLoop(ctx, exec, r, r, r.RenewMessageLock, nil, t.opts.MaxConcurrentCalls, t.opts.PrefetchCount, nil)
	return nil
}

func (t *trigger) closeReceiver(r interface{ Close(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.ClientRetryOptions.TryTimeout)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.log.Debug("closing the receiver", "error", err)
	}
}

func (t *trigger) stopping() bool {
	c := t.runCtx.Load()
	return c != nil && (*c).Err() != nil
}

// receiver is what the loops need of *Receiver and *SessionReceiver.
type receiver interface {
	ReceiveMessages(ctx context.Context, maxMessages int, o *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}

// backoff is the wait after a receive error: 100 ms doubling to 30 s.
type backoff struct{ d time.Duration }

func (b *backoff) wait(ctx context.Context) {
	if b.d == 0 {
		b.d = 100 * time.Millisecond
	} else {
		b.d = min(2*b.d, 30*time.Second)
	}
	tm := time.NewTimer(b.d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

func (b *backoff) reset() { b.d = 0 }

// receiveError records a failed receive on the trigger's driver.Outage (the one severity rule for
// connection failures: ERROR once per outage, DEBUG while it lasts, INFO when it recovers); a
// missing entity or a refused credential says so.
func (t *trigger) receiveError(err error) {
	t.st.receiveErrors.Add(1)
	var attrs []slog.Attr
	var e *azservicebus.Error
	if errors.As(err, &e) {
		switch e.Code {
		case azservicebus.CodeNotFound:
			attrs = append(attrs, slog.String("hint", "the entity does not exist (yet): the trigger retries until it does; create it, or fix the name"))
		case azservicebus.CodeUnauthorizedAccess:
			attrs = append(attrs, slog.String("hint", "the connection is not authorised to receive: wrong key, or no Listen right"))
		}
	}
	t.out.Fail(err, attrs...)
}

// receiveOK ends an outage (one INFO line with how long it lasted).
func (t *trigger) receiveOK() { t.out.OK() }

// singleLoop receives and dispatches one message per invocation, at most limit at once, asking
// for up to prefetch messages more than it has free slots. For a session (sess not nil) it ends
// when the handler released the session, when the session lock is lost, or after *idle without a
// message; it returns once its invocations ended and their messages are settled.
//
// A stop costs no delivery attempt for a message no handler started (issue 23): every message
// received is handed to a handler, also during the drain; and when Run's context ends while the
// link may still hold credit (a receive cut short by the stop, or one that returned fewer
// messages than it asked for), the receiver stays open releaseGrace after the drain, so that the
// SDK's background releaser returns what the service sent on that credit (a release does not
// count as a delivery) before the link closes. Closed earlier, those messages would stay locked
// until their lock expires and come back with their delivery count raised.
func (t *trigger) singleLoop(ctx context.Context, exec driver.Executor, rc receiver, s settler,
	renew func(context.Context, *azservicebus.ReceivedMessage, *azservicebus.RenewMessageLockOptions) error,
	sess *SessionActions, limit, prefetch int, idle *time.Duration) {
	slots := make(chan struct{}, limit)
	// Outside a session, a message's handler slot is free once its handler returned: its
	// settlement (a round trip to the service) holds one of 2 × limit settling slots instead, so
	// handlers are not kept waiting on completions. maxConcurrentCalls still bounds the handlers
	// running at once; at most three times as many messages are locked (issue 24: at the defaults
	// the trigger then outpaces a receive-complete loop of the same concurrency). A session's
	// messages keep their slot until settled: the next of the session starts after that.
	var settling chan struct{}
	if sess == nil {
		settling = make(chan struct{}, 2*limit)
	}
	// handle runs one message's invocation and settlement; it holds a handler slot on entry.
	handle := func(m *azservicebus.ReceivedMessage) {
		held := true
		defer func() {
			if held {
				<-slots
			}
		}()
		var handled func()
		if settling != nil {
			handled = func() {
				settling <- struct{}{}
				held = false
				<-slots
			}
			defer func() {
				if !held {
					<-settling
				}
			}()
		}
		t.handleOne(ctx, exec, s, renew, sess, m, handled)
	}
	// Workers live as long as the loop and take the next message when done: a goroutine per
	// message grew a fresh stack each time (the invocation path is deep). There are at most as
	// many as messages were in flight at once.
	work := make(chan *azservicebus.ReceivedMessage)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(work)
	// dispatch runs one invocation per message; the first holds a slot already.
	dispatch := func(msgs []*azservicebus.ReceivedMessage) {
		t.st.received.Add(int64(len(msgs)))
		for i, m := range msgs {
			if i > 0 {
				slots <- struct{}{} // during the drain too: the handlers in flight free slots
			}
			select {
			case work <- m:
			default:
				wg.Go(func() {
					handle(m)
					for m := range work {
						handle(m)
					}
				})
			}
		}
	}
	// credit is what the link may still deliver on: what the last receive asked for beyond what
	// it returned (the SDK tops the link up to the count asked).
	credit := 0
	defer func() {
		if ctx.Err() != nil && credit > 0 {
			t.creditAtStop.Store(true)
		}
	}()
	var bo backoff
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if sess != nil && sess.isReleased() {
			<-slots
			return
		}
		free := cap(slots) - len(slots) + 1
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if idle != nil {
			rctx, cancel = context.WithTimeout(ctx, *idle)
		}
		ask := free + prefetch
		msgs, err := rc.ReceiveMessages(rctx, ask, nil)
		cancel()
		credit = max(ask, credit) - len(msgs)
		if len(msgs) == 0 {
			<-slots
		}
		if err != nil && len(msgs) == 0 {
			if ctx.Err() != nil {
				return
			}
			if idle != nil && rctx.Err() != nil {
				return // the session is idle
			}
			if sess != nil && isSessionLost(err) {
				t.log.Warn("session lock lost; releasing the session", "session_id", sess.SessionID(), "error", err)
				return
			}
			t.receiveError(err)
			if isClosed(err) {
				credit = 0
				return // the caller opens a new receiver
			}
			bo.wait(ctx)
			continue
		}
		if len(msgs) == 0 {
			if idle != nil && rctx.Err() != nil {
				return
			}
			bo.wait(ctx) // the SDK recovered the link or connection: nothing received
			continue
		}
		bo.reset()
		t.receiveOK()
		dispatch(msgs)
	}
}

func isClosed(err error) bool {
	var e *azservicebus.Error
	return errors.As(err, &e) && e.Code == azservicebus.CodeClosed
}

func isSessionLost(err error) bool {
	var e *azservicebus.Error
	return errors.As(err, &e) && (e.Code == azservicebus.CodeLockLost || e.Code == azservicebus.CodeClosed)
}

// handleOne runs one invocation for m and settles it from the Result; handled (may be nil) runs
// between the two.
func (t *trigger) handleOne(ctx context.Context, exec driver.Executor, s settler,
	renew func(context.Context, *azservicebus.ReceivedMessage, *azservicebus.RenewMessageLockOptions) error,
	sess *SessionActions, m *azservicebus.ReceivedMessage, handled func()) {
	var renewFn func(context.Context, *azservicebus.ReceivedMessage) error
	if sess == nil && renew != nil {
		renewFn = func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
			err := renew(ctx, m, nil)
			if err == nil {
				t.st.renewals.Add(1)
			}
			return err
		}
	}
	acts := newActions(s, renewFn, t.opts.ClientRetryOptions.TryTimeout, []*azservicebus.ReceivedMessage{m})
	stop := func() {}
	if renewFn != nil && t.opts.MaxAutoLockRenewalDuration != 0 {
		stop = t.autoRenew(acts, m)
	}
	res := t.execute(ctx, exec, []*azservicebus.ReceivedMessage{m}, acts, sess)
	if handled != nil {
		handled()
	}
	stop()
	t.settle(s, acts, res)
}

func (t *trigger) execute(ctx context.Context, exec driver.Executor, msgs []*azservicebus.ReceivedMessage, acts *MessageActions, sess *SessionActions) driver.Result {
	md := &metadata{msgs: msgs, batch: t.batch, actions: acts, session: sess, client: t.client.Client}
	ev := &driver.Event{Metadata: md}
	if t.batch {
		ev.Batch = make([]any, len(msgs))
		for i, m := range msgs {
			ev.Batch[i] = t.data(m)
		}
	} else {
		m := msgs[0]
		ev.Data, ev.Payload, ev.ID = t.data(m), m.Body, m.MessageID
	}
	setExtras(ev, acts, sess)
	ctx = context.WithValue(ctx, actionsKey, acts)
	if sess != nil {
		ctx = context.WithValue(ctx, sessionKey, sess)
	}
	t.st.invocations.Add(1)
	return exec.Execute(ctx, ev)
}

func (t *trigger) data(m *azservicebus.ReceivedMessage) any {
	if t.kind == paramMessage {
		return m
	}
	if m.Body == nil {
		return []byte{}
	}
	return m.Body
}

// settle settles what the handler did not: Succeeded ⇒ complete when autoCompleteMessages;
// Failed or Cancelled ⇒ abandon (delivered again at once; the service dead-letters at its
// maxDeliveryCount). Settlement does not depend on the Run context (it runs at shutdown too).
func (t *trigger) settle(s settler, acts *MessageActions, res driver.Result) {
	rest := acts.end()
	t.st.handlerSettled.Add(int64(len(acts.msgs) - len(rest)))
	// A message whose lock was lost cannot be settled (as the Functions processor, do not try):
	// Service Bus delivers it again.
	rest = slices.DeleteFunc(rest, acts.lockLost)
	if len(rest) == 0 {
		return
	}
	switch res.Status {
	case driver.Succeeded:
		if !t.autoComplete {
			return
		}
		t.forEach(rest, func(ctx context.Context, m *azservicebus.ReceivedMessage) {
			if err := s.CompleteMessage(ctx, m, nil); err != nil {
				t.settleError("complete", acts, m, err)
				return
			}
			t.st.completed.Add(1)
		})
	default:
		if res.Status == driver.Failed {
			t.log.Debug("invocation failed; abandoning", "count", len(rest), "error", res.Err)
		}
		t.abandonAll(s, rest)
	}
}

// releaseGrace is how long a receiver stays open at shutdown after messages were abandoned or
// while its link may hold credit: the SDK's releaser releases one message per round trip.
const releaseGrace = 500 * time.Millisecond

func (t *trigger) abandonAll(s settler, msgs []*azservicebus.ReceivedMessage) {
	if t.stopping() {
		t.shutdownAbandons.Add(int64(len(msgs)))
	}
	t.forEach(msgs, func(ctx context.Context, m *azservicebus.ReceivedMessage) {
		if err := s.AbandonMessage(ctx, m, nil); err != nil {
			t.settleError("abandon", nil, m, err)
			return
		}
		t.st.abandoned.Add(1)
	})
}

// forEach runs fn for every message, up to 32 at once, each with a TryTimeout context.
func (t *trigger) forEach(msgs []*azservicebus.ReceivedMessage, fn func(context.Context, *azservicebus.ReceivedMessage)) {
	run := func(m *azservicebus.ReceivedMessage) {
		ctx, cancel := context.WithTimeout(context.Background(), t.opts.ClientRetryOptions.TryTimeout)
		defer cancel()
		fn(ctx, m)
	}
	if len(msgs) == 1 {
		run(msgs[0])
		return
	}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			run(m)
		})
	}
	wg.Wait()
}

func (t *trigger) settleError(op string, acts *MessageActions, m *azservicebus.ReceivedMessage, err error) {
	t.st.settleErrors.Add(1)
	if isLockLost(err) || (acts != nil && acts.lockLost(m)) {
		t.log.Warn("cannot "+op+" the message: its lock was lost; Service Bus delivers it again", "message_id", m.MessageID,
			"delivery_count", m.DeliveryCount, "error", err)
		return
	}
	t.log.Error("cannot "+op+" the message; Service Bus delivers it again once its lock expires", "message_id", m.MessageID,
		"delivery_count", m.DeliveryCount, "error", err)
}

// autoRenew renews m's lock while the handler runs, up to MaxAutoLockRenewalDuration (negative:
// without limit), as the Functions processor does. The returned stop ends it. Until the first
// renewal is due nothing runs but a timer: most handlers end long before (issue 24: a goroutine
// per message, and the growth of its stack, were a tenth of the trigger's CPU).
func (t *trigger) autoRenew(acts *MessageActions, m *azservicebus.ReceivedMessage) (stop func()) {
	var until time.Time
	if t.opts.MaxAutoLockRenewalDuration > 0 {
		until = time.Now().Add(t.opts.MaxAutoLockRenewalDuration)
	}
	// next is how long until the next renewal; false when there is none to make.
	next := func() (time.Duration, bool) {
		acts.renewMu.Lock()
		lu := m.LockedUntil
		acts.renewMu.Unlock()
		if lu == nil {
			return 0, false
		}
		remaining := time.Until(*lu)
		wait := max(0, remaining-min(10*time.Second, remaining/2))
		if !until.IsZero() && time.Now().Add(wait).After(until) {
			return 0, false
		}
		return wait, true
	}
	first, ok := next()
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	tm := time.AfterFunc(first, func() {
		defer close(done)
		t.renewLoop(ctx, acts, m, next)
	})
	return func() {
		cancel()
		if !tm.Stop() {
			<-done // the first renewal was due: wait for the loop to see the cancellation
		}
	}
}

// renewLoop renews m's lock now and then whenever next says, until ctx ends, the message is
// settled or its lock is lost.
func (t *trigger) renewLoop(ctx context.Context, acts *MessageActions, m *azservicebus.ReceivedMessage, next func() (time.Duration, bool)) {
	for first := true; ; first = false {
		if !first {
			wait, ok := next()
			if !ok {
				return
			}
			tm := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				tm.Stop()
				return
			case <-tm.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		acts.renewMu.Lock()
		lu := m.LockedUntil
		acts.renewMu.Unlock()
		if lu == nil {
			return
		}
		if acts.Settled(m) != "" {
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, t.opts.ClientRetryOptions.TryTimeout)
		_, err := acts.RenewLock(rctx, m)
		rcancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrInvocationEnded), errors.Is(err, ErrAlreadySettled):
			return
		case errors.Is(err, ErrLockLost):
			t.st.locksLost.Add(1)
			t.log.Error("message lock lost while the handler ran: Service Bus delivers the message again, and settling it will fail",
				"message_id", m.MessageID, "delivery_count", m.DeliveryCount, "error", err)
			return
		default:
			t.st.renewalErrors.Add(1)
			t.log.Warn("renewing the message lock failed; retrying", "message_id", m.MessageID, "error", err)
			if time.Until(*lu) <= 0 {
				t.st.locksLost.Add(1)
				t.log.Error("message lock expired while the handler ran: Service Bus delivers the message again, and settling it will fail",
					"message_id", m.MessageID, "delivery_count", m.DeliveryCount)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(time.Second, time.Until(*lu)/2)):
			}
		}
	}
}
