package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// Defaults and limits of the queue listener (checklist C20–C26).
const (
	DefaultBatchSize          = 16
	MaxBatchSize              = 32
	DefaultMaxPollingInterval = time.Minute
	MinPollingInterval        = 100 * time.Millisecond
	DefaultMaxDequeueCount    = 5
	// DefaultReceiveVisibility is how long a received message stays invisible before its
	// renewal (at half of it, while the handler runs) is due. Functions uses 10 minutes, so a
	// crashed host's messages wait 10 minutes for another receiver; azbind's 30 s costs a fast
	// handler no extra request and a crash about 30 s.
	DefaultReceiveVisibility = 30 * time.Second
	DefaultMaxFailureBackoff = 10 * time.Minute
	maxVisibility            = 7 * 24 * time.Hour
)

// ListenerOptions configure a Listener. The zero value is the Azure Functions default.
type ListenerOptions struct {
	// BatchSize is the number of messages received per request (default 16, at most 32).
	BatchSize int
	// NewBatchThreshold: the next batch is fetched once no more than this many messages are in
	// flight. nil means BatchSize/2 × Concurrency (C21).
	NewBatchThreshold *int
	// Concurrency is the processor count used for the default NewBatchThreshold
	// (default runtime.GOMAXPROCS(0)).
	Concurrency int
	// MaxPollingInterval caps the randomized exponential back-off while the queue is empty
	// (default 1 minute, at least 100 ms).
	MaxPollingInterval time.Duration
	// VisibilityTimeout is how long a message whose invocation failed stays invisible (default 0).
	VisibilityTimeout time.Duration
	// MaxDequeueCount is the number of attempts before a message moves to the poison queue (default 5).
	MaxDequeueCount int
	// Encoding of message text (default Base64).
	Encoding Encoding
	// FailureBackoff makes the visibility after a failure grow with the dequeue count:
	// max(VisibilityTimeout, 1s) × 2^(DequeueCount-1), capped at MaxFailureBackoff.
	FailureBackoff bool
	// MaxFailureBackoff caps FailureBackoff (default 10 minutes).
	MaxFailureBackoff time.Duration
	// ReceiveVisibility is the visibility timeout set at receive and renewed at half-interval while
	// the handler runs (default 30 s, at least 1 second): how long a message of a host that dies
	// mid-handler stays invisible before another receiver can take it. A handler that finishes
	// within half of it costs no renewal request.
	ReceiveVisibility time.Duration
	// SettleTimeout bounds each delete/release/poison request (default 30 s).
	SettleTimeout time.Duration
	// Logger receives the listener's logs (default slog.Default()); the listener adds the keys
	// queue, message_id and dequeue_count.
	Logger *slog.Logger
	// Hub, when set, wakes the listener out of its back-off when the host writes to its queue
	// (HubFor), and is told when the listener itself makes a message visible.
	Hub *Hub
}

// Validate reports options that are out of range, as *driver.ConfigError values (joined) that
// name the host.json field.
func (o *ListenerOptions) Validate() error {
	var errs []error
	if o.BatchSize < 0 || o.BatchSize > MaxBatchSize {
		errs = append(errs, &driver.ConfigError{Field: "batchSize", Problem: fmt.Sprintf("%d is out of range", o.BatchSize), Fix: fmt.Sprintf("use 1 to %d", MaxBatchSize)})
	}
	if o.NewBatchThreshold != nil && *o.NewBatchThreshold < 0 {
		errs = append(errs, &driver.ConfigError{Field: "newBatchThreshold", Problem: fmt.Sprintf("%d is negative", *o.NewBatchThreshold), Fix: "use 0 or more"})
	}
	if o.MaxPollingInterval != 0 && o.MaxPollingInterval < MinPollingInterval {
		errs = append(errs, &driver.ConfigError{Field: "maxPollingInterval", Problem: fmt.Sprintf("%s is below the minimum of 100 ms", o.MaxPollingInterval)})
	}
	if o.VisibilityTimeout < 0 || o.VisibilityTimeout > maxVisibility {
		errs = append(errs, &driver.ConfigError{Field: "visibilityTimeout", Problem: fmt.Sprintf("%s is out of range", o.VisibilityTimeout), Fix: "use 00:00:00 to 7.00:00:00"})
	}
	if o.MaxDequeueCount < 0 {
		errs = append(errs, &driver.ConfigError{Field: "maxDequeueCount", Problem: fmt.Sprintf("%d is out of range", o.MaxDequeueCount), Fix: "use 1 or more"})
	}
	if o.Encoding != "" && o.Encoding != Base64 && o.Encoding != None {
		errs = append(errs, &driver.ConfigError{Field: "messageEncoding", Problem: fmt.Sprintf("%q is not supported", o.Encoding), Fix: `use "base64" or "none"`})
	}
	if o.MaxFailureBackoff < 0 || o.MaxFailureBackoff > maxVisibility {
		errs = append(errs, &driver.ConfigError{Field: "maxFailureBackoff", Problem: fmt.Sprintf("%s is out of range", o.MaxFailureBackoff), Fix: "use up to 7.00:00:00"})
	}
	if o.ReceiveVisibility < 0 || o.ReceiveVisibility != 0 && o.ReceiveVisibility < time.Second || o.ReceiveVisibility > maxVisibility {
		errs = append(errs, &driver.ConfigError{Field: "receiveVisibility", Problem: fmt.Sprintf("%s is out of range", o.ReceiveVisibility), Fix: "use 00:00:01 to 7.00:00:00"})
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero value replaced by its default and values clamped.
func (o ListenerOptions) withDefaults() ListenerOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	o.BatchSize = min(o.BatchSize, MaxBatchSize)
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.NewBatchThreshold == nil || *o.NewBatchThreshold < 0 {
		n := o.BatchSize / 2 * o.Concurrency
		o.NewBatchThreshold = &n
	}
	if o.MaxPollingInterval <= 0 {
		o.MaxPollingInterval = DefaultMaxPollingInterval
	}
	o.MaxPollingInterval = max(o.MaxPollingInterval, MinPollingInterval)
	o.VisibilityTimeout = min(max(o.VisibilityTimeout, 0), maxVisibility)
	if o.MaxDequeueCount <= 0 {
		o.MaxDequeueCount = DefaultMaxDequeueCount
	}
	if o.Encoding != None {
		o.Encoding = Base64
	}
	if o.MaxFailureBackoff <= 0 {
		o.MaxFailureBackoff = DefaultMaxFailureBackoff
	}
	o.MaxFailureBackoff = min(o.MaxFailureBackoff, maxVisibility)
	if o.ReceiveVisibility <= 0 {
		o.ReceiveVisibility = DefaultReceiveVisibility
	}
	o.ReceiveVisibility = min(max(o.ReceiveVisibility, time.Second), maxVisibility)
	if o.SettleTimeout <= 0 {
		o.SettleTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Stats count what a Listener did; read them with Listener.Stats.
type Stats struct {
	Receives        int64 // DequeueMessages requests
	EmptyReceives   int64 // of which returned no message
	ReceiveErrors   int64
	ExistenceChecks int64 // GetProperties requests
	Messages        int64 // messages received
	Invocations     int64 // handler calls
	Deleted         int64
	Released        int64
	Poisoned        int64
	Renewals        int64
	RenewalFailures int64
	Workers         int64 // message workers started; a worker takes message after message
}

type stats struct {
	receives, emptyReceives, receiveErrors, existenceChecks, messages, invocations,
	deleted, released, poisoned, renewals, renewalFailures, workers atomic.Int64
}

// Listener polls one queue and hands each message to a handle function, settling it from the
// returned Result: Succeeded deletes it; Failed releases it after VisibilityTimeout, or moves it to
// the poison queue once its dequeue count reaches MaxDequeueCount; Cancelled makes it visible
// again at once. A nil poison client means the queue has no poison queue: failed messages then
// stay invisible until their receive visibility ends, and messages already past MaxDequeueCount are
// not invoked (they stay invisible too), as in Functions.
type Listener struct {
	q, poison *azqueue.QueueClient
	name      string
	pname     string
	opts      ListenerOptions
	handle    func(ctx context.Context, m *Message) driver.Result
	log       *slog.Logger

	mu       sync.Mutex
	inflight int
	idle     int // workers waiting for a message
	changed  chan struct{}
	wake     chan struct{} // Wake

	exists       atomic.Bool // queue existence cached until a storage error
	poisonExists atomic.Bool
	notFoundLog  atomic.Bool
	outage       *driver.Outage // connection failures: ERROR once, INFO on recovery
	st           stats
}

// NewListener returns a Listener for client. handle is called concurrently, once per message,
// with a context that is not cancelled when Run's context is (the invocation decides how to
// react to shutdown). Options out of range are clamped; use ListenerOptions.Validate first to
// report them.
func NewListener(client *azqueue.QueueClient, poison *azqueue.QueueClient, opts ListenerOptions, handle func(ctx context.Context, m *Message) driver.Result) *Listener {
	o := opts.withDefaults()
	l := &Listener{
		q:       client,
		poison:  poison,
		name:    queueNameFromURL(client.URL()),
		opts:    o,
		handle:  handle,
		changed: make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
	}
	if poison != nil {
		l.pname = queueNameFromURL(poison.URL())
	}
	// The client may come from anywhere (not connection.SDKOptions): the listener's logs are
	// scrubbed of SAS signatures and keys here, once.
	l.log = slog.New(connection.ScrubHandler(o.Logger.Handler())).With("queue", l.name)
	l.outage = driver.NewOutage(l.log, driver.SystemClock, "receiving from queue "+l.name)
	return l
}

// Stats returns a snapshot of the listener's counters.
func (l *Listener) Stats() Stats {
	s := &l.st
	return Stats{
		Receives: s.receives.Load(), EmptyReceives: s.emptyReceives.Load(), ReceiveErrors: s.receiveErrors.Load(),
		ExistenceChecks: s.existenceChecks.Load(), Messages: s.messages.Load(), Invocations: s.invocations.Load(),
		Deleted: s.deleted.Load(), Released: s.released.Load(), Poisoned: s.poisoned.Load(),
		Renewals: s.renewals.Load(), RenewalFailures: s.renewalFailures.Load(), Workers: s.workers.Load(),
	}
}

// Options returns the effective options (defaults applied).
func (l *Listener) Options() ListenerOptions { return l.opts }

func queueNameFromURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		u = p.Path
	}
	u = strings.TrimRight(u, "/")
	if i := strings.LastIndex(u, "/"); i >= 0 {
		u = u[i+1:]
	}
	return u
}

// Run polls until ctx is cancelled, then stops fetching, waits until every received message has
// been handled and settled, and returns nil.
//
// A receive starts whenever the messages in flight, counting a full batch for every receive still
// outstanding, are no more than NewBatchThreshold (C21). With one receive at a time this is the
// Functions rule; while the queue is deep (the last receive returned a full batch) further receives
// may overlap, which keeps the service busy without ever exceeding BatchSize + NewBatchThreshold
// messages in flight.
func (l *Listener) Run(ctx context.Context) error {
	defer l.opts.Hub.add(l)()
	// Messages run on a pool of workers that is started lazily and lives as long as Run: a worker
	// that finishes a message takes the next one, so a busy listener does not start a goroutine
	// (and grow a fresh stack) per message. There are never more workers than messages once in
	// flight at the same time.
	var wg sync.WaitGroup
	work := make(chan *azqueue.DequeuedMessage)
	defer func() {
		close(work)
		wg.Wait()
	}()
	worker := func(d *azqueue.DequeuedMessage) {
		defer wg.Done()
		for ok := true; ok; d, ok = <-work {
			l.process(ctx, newMessage(l.name, d))
			l.finished() // counts this worker idle: it takes the next message sent on work
		}
	}
	type result struct {
		msgs []*azqueue.DequeuedMessage
		err  error
	}
	results := make(chan result)
	bo := backoff{min: MinPollingInterval, max: l.opts.MaxPollingInterval}
	var (
		outstanding int
		full        bool        // the last receive returned a full batch
		pause       *time.Timer // back-off in progress
		stopping    bool
	)
	defer func() {
		if pause != nil {
			pause.Stop()
		}
	}()
	startBackoff := func() {
		full = false
		pause = time.NewTimer(bo.next())
	}
	for {
		if !stopping && ctx.Err() != nil {
			stopping = true
		}
		if stopping && outstanding == 0 {
			break
		}
		if !stopping && pause == nil && (outstanding == 0 || (full && outstanding < maxOutstanding)) {
			l.mu.Lock()
			load := l.inflight + outstanding*l.opts.BatchSize
			l.mu.Unlock()
			if load <= *l.opts.NewBatchThreshold && (outstanding == 0 || l.exists.Load()) {
				if !l.exists.Load() {
					if err := l.checkExists(ctx); err != nil {
						if ctx.Err() == nil {
							l.logReceiveError(err)
						}
						startBackoff()
						continue
					}
				}
				outstanding++
				go func() {
					msgs, err := l.receive(ctx)
					results <- result{msgs, err}
				}()
				continue
			}
		}
		var pauseC <-chan time.Time
		if pause != nil {
			pauseC = pause.C
		}
		var done <-chan struct{}
		if !stopping {
			done = ctx.Done()
		}
		select {
		case r := <-results:
			outstanding--
			switch {
			case r.err != nil:
				l.logReceiveError(r.err)
				if pause == nil {
					startBackoff()
				}
			case len(r.msgs) == 0:
				if pause == nil {
					startBackoff()
				}
			default:
				bo.reset()
				full = len(r.msgs) >= l.opts.BatchSize
				if ctx.Err() != nil {
					// Stopped while the receive was in flight: hand the messages back at once.
					for _, d := range r.msgs {
						m := newMessage(l.name, d)
						l.release(m, m.PopReceipt, 0)
					}
					continue
				}
				l.addInflight(len(r.msgs))
				for _, d := range r.msgs {
					l.mu.Lock()
					idle := l.idle > 0
					if idle {
						l.idle--
					}
					l.mu.Unlock()
					if idle {
						work <- d // an idle worker is receiving, or about to
						continue
					}
					wg.Add(1)
					l.st.workers.Add(1)
					go worker(d)
				}
			}
		case <-l.changed:
		case <-pauseC:
			pause = nil
		case <-l.wake:
			if pause != nil {
				pause.Stop()
				pause = nil
			}
		case <-done:
		}
	}
	return nil
}

// Wake ends the listener's back-off now: a message was just written to its queue. It never
// blocks; wake-ups while one is pending are merged.
func (l *Listener) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// maxOutstanding caps overlapping receives.
const maxOutstanding = 4

func (l *Listener) addInflight(n int) {
	l.mu.Lock()
	l.inflight += n
	l.mu.Unlock()
	if n < 0 {
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}
}

// finished records that a worker finished a message and waits for the next one.
func (l *Listener) finished() {
	l.mu.Lock()
	l.inflight--
	l.idle++
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *Listener) checkExists(ctx context.Context) error {
	l.st.existenceChecks.Add(1)
	if _, err := l.q.GetProperties(ctx, nil); err != nil {
		return err
	}
	l.exists.Store(true)
	if l.notFoundLog.CompareAndSwap(true, false) {
		l.log.Info("queue now exists; polling")
	}
	return nil
}

func (l *Listener) receive(ctx context.Context) ([]*azqueue.DequeuedMessage, error) {
	// The receive itself is not cancelled with ctx: a receive cut short would leave the messages
	// it took invisible for the whole receive visibility.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	l.st.receives.Add(1)
	resp, err := l.q.DequeueMessages(rctx, &azqueue.DequeueMessagesOptions{
		NumberOfMessages:  ptr(int32(l.opts.BatchSize)),
		VisibilityTimeout: ptr(seconds(l.opts.ReceiveVisibility)),
	})
	if err != nil {
		l.exists.Store(false)
		return nil, err
	}
	l.outage.OK()
	if len(resp.Messages) == 0 {
		l.st.emptyReceives.Add(1)
	}
	l.st.messages.Add(int64(len(resp.Messages)))
	return resp.Messages, nil
}

func (l *Listener) logReceiveError(err error) {
	l.st.receiveErrors.Add(1)
	var re *azcore.ResponseError
	switch {
	case queueerror.HasCode(err, queueerror.QueueNotFound):
		if l.notFoundLog.CompareAndSwap(false, true) {
			l.log.Info("queue does not exist yet; polling with back-off until it is created")
		}
	case queueerror.HasCode(err, queueerror.QueueBeingDeleted):
		l.log.Warn("queue is being deleted; polling with back-off")
	default:
		// One severity rule for connection failures (driver.Outage): ERROR once per outage,
		// DEBUG while it lasts, INFO when it recovers.
		var attrs []slog.Attr
		if errors.As(err, &re) {
			attrs = append(attrs, slog.Int("status", re.StatusCode))
		}
		l.outage.Fail(err, attrs...)
	}
}

// msgLog is the logger for one message. It is built when something is logged, not per message.
func (l *Listener) msgLog(m *Message) *slog.Logger {
	return l.log.With("message_id", m.ID, "dequeue_count", m.DequeueCount)
}

// process handles one received message end to end.
func (l *Listener) process(ctx context.Context, m *Message) {
	// C25: a message already past the limit is poisoned without invoking. Without a poison queue
	// it is not invoked either (as Functions' BeginProcessingMessageAsync): it stays invisible
	// until its receive visibility ends.
	if m.DequeueCount > int64(l.opts.MaxDequeueCount) {
		if l.poison == nil {
			l.msgLog(m).Warn(fmt.Sprintf("Message has reached MaxDequeueCount of %d and queue %s has no poison queue: not invoking the function; the message stays in the queue, invisible until its visibility ends", l.opts.MaxDequeueCount, l.name))
			return
		}
		l.msgLog(m).Warn(fmt.Sprintf("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.", l.opts.MaxDequeueCount, l.pname))
		l.poisonMessage(m, m.PopReceipt)
		return
	}
	body, err := l.opts.Encoding.decode(m.Text)
	if err != nil {
		// C26: undecodable ⇒ poison at once, loudly.
		fix := "set messageEncoding to none, or base64-encode messages"
		if l.poison != nil {
			l.msgLog(m).Error(fmt.Sprintf("queue message %s in queue %s is not valid %s: moving it to queue %s without invoking the function: %s", m.ID, l.name, l.opts.Encoding, l.pname, fix),
				"encoding", string(l.opts.Encoding), "error", err)
			l.poisonMessage(m, m.PopReceipt)
		} else {
			l.msgLog(m).Error(fmt.Sprintf("queue message %s in queue %s is not valid %s and the queue has no poison queue: leaving it invisible: %s", m.ID, l.name, l.opts.Encoding, fix),
				"encoding", string(l.opts.Encoding), "error", err)
		}
		return
	}
	m.Body = body

	r := l.startRenewal(m)
	l.st.invocations.Add(1)
	res := l.handle(context.WithoutCancel(ctx), m)
	pop := r.stop()

	switch res.Status {
	case driver.Succeeded:
		l.delete(m, pop)
	case driver.Cancelled:
		l.release(m, pop, 0)
	default:
		if l.poison == nil {
			l.msgLog(m).Warn("function failed; the queue has no poison queue, so the message stays invisible until its visibility ends", "error", res.Err)
			return
		}
		if m.DequeueCount >= int64(l.opts.MaxDequeueCount) {
			l.msgLog(m).Warn(fmt.Sprintf("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.", l.opts.MaxDequeueCount, l.pname))
			l.poisonMessage(m, pop)
			return
		}
		l.release(m, pop, l.failureVisibility(m.DequeueCount))
	}
}

// failureVisibility is the visibility of a failed message (C24), growing with the dequeue count
// when FailureBackoff is on.
func (l *Listener) failureVisibility(dequeueCount int64) time.Duration {
	vt := l.opts.VisibilityTimeout
	if !l.opts.FailureBackoff {
		return vt
	}
	base := max(vt, time.Second)
	exp := min(max(dequeueCount-1, 0), 40)
	d := time.Duration(float64(base) * math.Pow(2, float64(exp)))
	if d <= 0 || d > l.opts.MaxFailureBackoff {
		d = l.opts.MaxFailureBackoff
	}
	return d
}

func (l *Listener) settleCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), l.opts.SettleTimeout)
}

// ignorable reports settle errors that mean "someone else owns or removed the message".
func ignorable(err error) bool {
	return queueerror.HasCode(err, queueerror.PopReceiptMismatch, queueerror.MessageNotFound, queueerror.QueueNotFound, queueerror.QueueDisabled)
}

func (l *Listener) delete(m *Message, pop string) {
	ctx, cancel := l.settleCtx()
	defer cancel()
	if _, err := l.q.DeleteMessage(ctx, m.ID, pop, nil); err != nil {
		if ignorable(err) {
			l.msgLog(m).Warn("could not delete the message: another receiver owns it now or it is gone", "error", err)
		} else {
			l.msgLog(m).Error("could not delete the message; it will be delivered again", "error", err)
		}
		return
	}
	l.st.deleted.Add(1)
}

func (l *Listener) release(m *Message, pop string, vt time.Duration) {
	ctx, cancel := l.settleCtx()
	defer cancel()
	if _, err := l.q.UpdateMessage(ctx, m.ID, pop, m.Text, &azqueue.UpdateMessageOptions{VisibilityTimeout: ptr(seconds(vt))}); err != nil {
		if ignorable(err) {
			l.msgLog(m).Warn("could not release the message: another receiver owns it now or it is gone", "error", err)
		} else {
			l.msgLog(m).Error("could not release the message; it reappears when its receive visibility ends", "error", err)
		}
		return
	}
	l.st.released.Add(1)
	if vt == 0 {
		l.opts.Hub.Notify(l.q.URL())
	}
}

// poisonMessage copies the message text byte for byte to the poison queue (created on demand),
// then deletes it from the source queue.
func (l *Listener) poisonMessage(m *Message, pop string) {
	ctx, cancel := l.settleCtx()
	defer cancel()
	if err := l.enqueuePoison(ctx, m.Text); err != nil {
		l.msgLog(m).Error("could not copy the message to the poison queue; it stays in the queue", "poison_queue", l.pname, "error", err)
		return
	}
	l.st.poisoned.Add(1)
	if _, err := l.q.DeleteMessage(ctx, m.ID, pop, nil); err != nil && !queueerror.HasCode(err, queueerror.MessageNotFound) {
		l.msgLog(m).Error("copied the message to the poison queue but could not delete it from the source queue", "poison_queue", l.pname, "error", err)
		return
	}
	l.st.deleted.Add(1)
}

func (l *Listener) enqueuePoison(ctx context.Context, text string) error {
	if !l.poisonExists.Load() {
		if err := createIfMissing(ctx, l.poison); err != nil {
			return err
		}
		l.poisonExists.Store(true)
	}
	_, err := l.poison.EnqueueMessage(ctx, text, nil)
	if queueerror.HasCode(err, queueerror.QueueNotFound) {
		l.poisonExists.Store(false)
		if err = createIfMissing(ctx, l.poison); err == nil {
			l.poisonExists.Store(true)
			_, err = l.poison.EnqueueMessage(ctx, text, nil)
		}
	}
	if err == nil {
		l.opts.Hub.Notify(l.poison.URL())
	}
	return err
}

// renewal keeps a message invisible while its handler runs (C23). Nothing runs for a handler that
// finishes within half the receive visibility: the first renewal is a timer (no goroutine) that
// starts the renewal loop only when it fires.
type renewal struct {
	l       *Listener
	m       *Message
	t       *time.Timer
	mu      sync.Mutex
	pop     string
	stopped bool
	quit    chan struct{} // made when the loop starts
	done    chan struct{}
}

func (l *Listener) startRenewal(m *Message) *renewal {
	r := &renewal{l: l, m: m, pop: m.PopReceipt}
	r.t = time.AfterFunc(l.opts.ReceiveVisibility/2, r.loop)
	return r
}

// stop ends the renewal and returns the current pop receipt.
func (r *renewal) stop() string {
	r.t.Stop()
	r.mu.Lock()
	r.stopped = true
	quit, done := r.quit, r.done
	r.mu.Unlock()
	if quit != nil {
		close(quit)
		<-done
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pop
}

// loop renews the message's visibility now and then every half visibility until stop.
func (r *renewal) loop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.quit, r.done = make(chan struct{}), make(chan struct{})
	quit := r.quit
	r.mu.Unlock()
	defer close(r.done)
	l, m := r.l, r.m
	normal := l.opts.ReceiveVisibility / 2
	floor := min(time.Minute, normal/4)
	interval := normal
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		r.mu.Lock()
		pop := r.pop
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), max(normal, time.Second))
		resp, err := l.q.UpdateMessage(ctx, m.ID, pop, m.Text, &azqueue.UpdateMessageOptions{VisibilityTimeout: ptr(seconds(l.opts.ReceiveVisibility))})
		cancel()
		switch {
		case err == nil && resp.PopReceipt != nil:
			l.st.renewals.Add(1)
			r.mu.Lock()
			r.pop = *resp.PopReceipt
			r.mu.Unlock()
			interval = normal
		case err != nil && ignorable(err):
			l.st.renewalFailures.Add(1)
			l.msgLog(m).Warn("lost the message while its function runs (its visibility ended and another receiver took it, or it was deleted); it may be processed twice", "error", err)
			return
		default:
			l.st.renewalFailures.Add(1)
			l.msgLog(m).Warn("could not renew the message's visibility; retrying sooner", "error", err)
			// After a failed renewal the interval shrinks linearly towards the floor.
			interval = max(interval-(normal-floor)/4, floor)
		}
		if t == nil {
			t = time.NewTimer(interval)
		} else {
			t.Reset(interval)
		}
		select {
		case <-quit:
			return
		case <-t.C:
		}
	}
}

// backoff is the randomized exponential back-off of an empty queue (C22): 100 ms, then about
// 200, 300, 500, 900, 1700 ms … capped at max.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) reset() { b.n = 0 }

func (b *backoff) next() time.Duration {
	d := b.min
	if b.n > 0 {
		delta := float64(100*time.Millisecond) * math.Pow(2, float64(b.n-1)) * (0.8 + 0.4*rand.Float64())
		d += time.Duration(delta)
	}
	if d > b.max || d <= 0 {
		d = b.max
	}
	if b.n < 40 {
		b.n++
	}
	return d
}

func seconds(d time.Duration) int32 {
	s := math.Ceil(d.Seconds())
	return int32(min(s, float64(maxVisibility/time.Second)))
}

func ptr[T any](v T) *T { return &v }
