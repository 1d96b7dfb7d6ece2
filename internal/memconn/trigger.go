package memconn

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/azbind/azbind/extension/driver"
)

// Message is what a memTrigger handler may take instead of the payload.
type Message struct {
	ID            string
	Body          []byte
	DeliveryCount int
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
	opts *Options
	many bool
	msgT bool // the handler takes *Message
}

func newQueueTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg queueConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	opts, err := optionsFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	cl, err := clientFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	return &queueTrigger{q: cl.b.Queue(cfg.Queue), opts: opts, many: bc.Spec.Many(), msgT: bc.Param == messageType}, nil
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
	sem := make(chan struct{}, t.opts.concurrency())
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
			n = t.opts.batchSize()
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
