package memconn

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/azbind/azbind/extension/driver"
)

// Message is what a memTrigger handler may take instead of the payload.
type Message struct {
	ID            string
	Body          []byte
	DeliveryCount int
}

type msg struct {
	id         int64
	body       []byte
	deliveries int
}

// DeadLetter is a dead-lettered message and the reason it was dead-lettered.
type DeadLetter struct {
	Body   []byte
	Reason string
}

// ReasonMaxDeliveries is the dead-letter reason of a message that failed maxDeliveries times
// (Service Bus: MaxDeliveryCountExceeded).
const ReasonMaxDeliveries = "MaxDeliveryCountExceeded"

// Queue is an in-memory queue with at-least-once delivery.
type Queue struct {
	name     string
	mu       sync.Mutex
	ready    []*msg
	inflight map[int64]*msg
	acked    [][]byte
	dead     []DeadLetter
	deferred [][]byte
	notify   chan struct{}
	seq      atomic.Int64
}

// Send enqueues a message.
func (q *Queue) Send(body []byte) {
	q.mu.Lock()
	q.ready = append(q.ready, &msg{id: q.seq.Add(1), body: append([]byte(nil), body...)})
	q.mu.Unlock()
	q.wake()
}

func (q *Queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Pending counts messages not yet settled for good (ready or in flight): completed, dead-lettered
// and deferred messages are not pending.
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready) + len(q.inflight)
}

// Acked returns the completed bodies in order.
func (q *Queue) Acked() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]byte(nil), q.acked...)
}

// Dead returns the dead-lettered bodies.
func (q *Queue) Dead() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out [][]byte
	for _, d := range q.dead {
		out = append(out, d.Body)
	}
	return out
}

// DeadLetters returns the dead-lettered messages with their reasons.
func (q *Queue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]DeadLetter(nil), q.dead...)
}

// Deferred returns the deferred bodies (set aside by a handler; never delivered again by the trigger).
func (q *Queue) Deferred() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]byte(nil), q.deferred...)
}

// Peek returns the ready message bodies without removing them.
func (q *Queue) Peek() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out [][]byte
	for _, m := range q.ready {
		out = append(out, m.body)
	}
	return out
}

// Drain removes and returns every ready message body (for output assertions).
func (q *Queue) Drain() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out [][]byte
	for _, m := range q.ready {
		out = append(out, m.body)
	}
	q.ready = nil
	return out
}

// receive takes up to n ready messages and puts them in flight.
func (q *Queue) receive(n int) []*msg {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.ready))
	out := q.ready[:n:n]
	q.ready = q.ready[n:]
	for _, m := range out {
		m.deliveries++
		q.inflight[m.id] = m
	}
	return out
}

// outcome is how a message in flight is settled.
type outcome int

const (
	complete   outcome = iota // remove it
	abandon                   // a failed delivery: back to ready, or dead-lettered after maxDeliveries
	release                   // the host stopped: back to ready, not counted as a failure
	deadLetter                // moved to the dead-letter list with a reason
	deferMsg                  // set aside
)

func (q *Queue) settle(m *msg, o outcome, reason string, maxDeliveries int) {
	q.mu.Lock()
	delete(q.inflight, m.id)
	if o == abandon && maxDeliveries > 0 && m.deliveries >= maxDeliveries {
		o, reason = deadLetter, ReasonMaxDeliveries
	}
	switch o {
	case complete:
		q.acked = append(q.acked, m.body)
	case deadLetter:
		q.dead = append(q.dead, DeadLetter{Body: m.body, Reason: reason})
	case deferMsg:
		q.deferred = append(q.deferred, m.body)
	default:
		q.ready = append(q.ready, m)
	}
	q.mu.Unlock()
	if o == abandon || o == release {
		q.wake()
	}
}

// ErrSettled is returned by an Actions method when the messages were already settled (Service
// Bus: MessageLockLost).
var ErrSettled = errors.New("memconn: message already settled")

// Actions lets a handler settle its invocation's messages itself, as Service Bus's
// ServiceBusMessageActions does. A handler receives it by declaring a parameter (or an untagged
// bindings-struct field) of type *Actions: memTrigger lists that type in its BindingType.Extras
// and puts one in every Event.Extras. After the invocation, the trigger settles only what the
// handler did not: complete on success, abandon on failure, release when cancelled.
type Actions struct {
	q             *Queue
	maxDeliveries int
	mu            sync.Mutex
	msgs          []*msg // the event's messages not yet settled
}

// Each method settles every message of the event not yet settled (all of a batch, for
// cardinality many) and returns ErrSettled when there is none left.

// Complete removes the messages from the queue.
func (a *Actions) Complete(context.Context) error { return a.settle(complete, "") }

// Abandon releases the messages for redelivery (counted as a failed delivery).
func (a *Actions) Abandon(context.Context) error { return a.settle(abandon, "") }

// DeadLetter moves the messages to the dead-letter list with reason.
func (a *Actions) DeadLetter(_ context.Context, reason string) error {
	return a.settle(deadLetter, reason)
}

// Defer sets the messages aside: the trigger never delivers them again.
func (a *Actions) Defer(context.Context) error { return a.settle(deferMsg, "") }

func (a *Actions) settle(o outcome, reason string) error {
	if a == nil {
		return errors.New("memconn: no Actions (the trigger is not a memTrigger)")
	}
	a.mu.Lock()
	msgs := a.msgs
	a.msgs = nil
	a.mu.Unlock()
	if len(msgs) == 0 {
		return ErrSettled
	}
	for _, m := range msgs {
		a.q.settle(m, o, reason, a.maxDeliveries)
	}
	return nil
}

// finish settles what the handler left unsettled, from the invocation's status.
func (a *Actions) finish(st driver.Status) {
	o := complete
	switch st {
	case driver.Failed:
		o = abandon
	case driver.Cancelled:
		o = release
	}
	_ = a.settle(o, "") // ErrSettled: the handler settled everything
}

// memTrigger: {"type": "memTrigger", "queue": "<name>", "cardinality": "one"|"many"}.

type queueConfig struct {
	Queue string `binding:"queue,required"`
}

type queueTrigger struct {
	q    *Queue
	opts Options
	many bool
	msgT bool // the handler takes *Message
}

func newQueueTrigger(_ context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg queueConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	opts, err := options(bc)
	if err != nil {
		return nil, err
	}
	return &queueTrigger{q: Default.Queue(cfg.Queue), opts: opts, many: bc.Spec.Many(), msgT: bc.Param == messageType}, nil
}

var messageType = reflect.TypeFor[*Message]()

// BindingData implements driver.BindingDataContract.
func (t *queueTrigger) BindingData() []string {
	return []string{"Id", "DeliveryCount", "QueueName", "memTrigger", "*"}
}

// queueMeta is the binding data of one event (of the batch's first message for many).
type queueMeta struct {
	m *msg
	q string
}

func (md queueMeta) Lookup(name string) (any, bool) {
	switch strings.ToLower(name) {
	case "id":
		return strconv.FormatInt(md.m.id, 10), true
	case "deliverycount":
		return md.m.deliveries, true
	case "queuename":
		return md.q, true
	case "memtrigger":
		return string(md.m.body), true
	}
	return nil, false
}

func (t *queueTrigger) data(m *msg) any {
	if t.msgT {
		return &Message{ID: strconv.FormatInt(m.id, 10), Body: m.body, DeliveryCount: m.deliveries}
	}
	return m.body
}

// Run implements driver.Trigger: receive while a concurrency slot is free, run each event in its
// own goroutine, and settle it from the handler's Actions and the invocation's status.
func (t *queueTrigger) Run(ctx context.Context, exec driver.Executor) error {
	sem := make(chan struct{}, t.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait() // "stop fetching" then wait until everything dispatched is settled
	for {
		select {
		case <-ctx.Done():
			return nil
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil { // select picks at random when both are ready: never fetch after stop
			<-sem
			return nil
		}
		n := 1
		if t.many {
			n = t.opts.BatchSize
		}
		msgs := t.q.receive(n)
		if len(msgs) == 0 {
			<-sem
			select {
			case <-ctx.Done():
				return nil
			case <-t.q.notify:
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			acts := &Actions{q: t.q, maxDeliveries: t.opts.MaxDeliveries, msgs: msgs}
			ev := &driver.Event{ID: strconv.FormatInt(msgs[0].id, 10), Metadata: queueMeta{msgs[0], t.q.name}, Extras: []any{acts}}
			if t.many {
				for _, m := range msgs {
					ev.Batch = append(ev.Batch, t.data(m))
				}
			} else {
				ev.Data = t.data(msgs[0])
			}
			acts.finish(exec.Execute(ctx, ev).Status)
		}()
	}
}
