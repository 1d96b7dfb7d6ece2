// Package memconn is an in-memory connector used only by azbind's own tests: it proves the
// extension contract and drives the conformance suite without any emulator. It registers the
// binding types "memTrigger" (a queue-like, polling trigger with redelivery and dead-lettering)
// and "mem" (input: a key/value store; output: a queue).
package memconn

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/azbind/azbind/extension/driver"
)

// Message is what a handler may take instead of the payload.
type Message struct {
	ID            string
	Body          []byte
	DeliveryCount int
}

// Broker holds queues and a key/value store, shared by every host in the process.
type Broker struct {
	mu     sync.Mutex
	queues map[string]*Queue
	kv     map[string][]byte
}

// Default is the process-wide broker the registered bindings use.
var Default = &Broker{queues: map[string]*Queue{}, kv: map[string][]byte{}}

// Queue returns (creating) the named queue.
func (b *Broker) Queue(name string) *Queue {
	b.mu.Lock()
	defer b.mu.Unlock()
	q, ok := b.queues[name]
	if !ok {
		q = &Queue{name: name, notify: make(chan struct{}, 1), inflight: map[int64]*msg{}}
		b.queues[name] = q
	}
	return q
}

// Put stores a value for the "mem" input binding; Get reads it.
func (b *Broker) Put(key string, v []byte) {
	b.mu.Lock()
	b.kv[key] = v
	b.mu.Unlock()
}

// Get returns a stored value.
func (b *Broker) Get(key string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.kv[key]
	return v, ok
}

type msg struct {
	id         int64
	body       []byte
	deliveries int
}

// Queue is an in-memory queue with at-least-once delivery.
type Queue struct {
	name     string
	mu       sync.Mutex
	ready    []*msg
	inflight map[int64]*msg
	acked    [][]byte
	dead     [][]byte
	notify   chan struct{}
	seq      atomic.Int64
	receives atomic.Int64
}

// Send enqueues a message.
func (q *Queue) Send(body []byte) {
	q.mu.Lock()
	q.ready = append(q.ready, &msg{id: q.seq.Add(1), body: append([]byte(nil), body...)})
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Pending counts messages not yet acknowledged or dead-lettered (ready or in flight).
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready) + len(q.inflight)
}

// Acked returns the acknowledged bodies in order.
func (q *Queue) Acked() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]byte(nil), q.acked...)
}

// Dead returns the dead-lettered bodies.
func (q *Queue) Dead() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]byte(nil), q.dead...)
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

func (q *Queue) receive(n int) []*msg {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n > len(q.ready) {
		n = len(q.ready)
	}
	out := q.ready[:n:n]
	q.ready = q.ready[n:]
	for _, m := range out {
		m.deliveries++
		q.inflight[m.id] = m
	}
	if n > 0 {
		q.receives.Add(1)
	}
	return out
}

func (q *Queue) settle(m *msg, st driver.Status, maxDeliveries int) {
	q.mu.Lock()
	delete(q.inflight, m.id)
	switch {
	case st == driver.Succeeded:
		q.acked = append(q.acked, m.body)
	case st == driver.Failed && maxDeliveries > 0 && m.deliveries >= maxDeliveries:
		q.dead = append(q.dead, m.body)
	default:
		q.ready = append(q.ready, m)
	}
	q.mu.Unlock()
	if st != driver.Succeeded {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
}

// Options is the host.json "extensions.memory" section.
type Options struct {
	MaxDeliveries int `binding:"maxDeliveries"` // dead-letter after this many failed deliveries (0: never)
	Concurrency   int `binding:"concurrency"`   // invocations in flight per trigger (default 16)
	BatchSize     int `binding:"batchSize"`     // items per event with cardinality many (default 8)
}

type triggerConfig struct {
	Queue string `binding:"queue,required"`
}

type trigger struct {
	q    *Queue
	opts Options
	many bool
	msgT bool // handler wants *Message
}

func init() {
	driver.Register(driver.Extension{
		Name: "memory",
		Bindings: []driver.BindingType{
			{Type: "memTrigger", NewTrigger: newTrigger},
			{Type: "mem", NewInput: newInput, NewOutput: newOutput},
		},
	})
}

var messageType = reflect.TypeFor[*Message]()

func newTrigger(_ context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg triggerConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	var opts Options
	if err := bc.DecodeConfig(&opts); err != nil {
		return nil, err
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 8
	}
	return &trigger{q: Default.Queue(cfg.Queue), opts: opts, many: bc.Spec.Many(), msgT: bc.Param == messageType}, nil
}

// BindingData implements driver.BindingDataContract.
func (t *trigger) BindingData() []string {
	return []string{"Id", "DeliveryCount", "QueueName", "memTrigger", "*"}
}

type meta struct {
	m *msg
	q string
}

func (md meta) Lookup(name string) (any, bool) {
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

func (t *trigger) data(m *msg) any {
	if t.msgT {
		return &Message{ID: strconv.FormatInt(m.id, 10), Body: m.body, DeliveryCount: m.deliveries}
	}
	return m.body
}

// Run implements driver.Trigger.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	sem := make(chan struct{}, t.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
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
			ev := &driver.Event{ID: strconv.FormatInt(msgs[0].id, 10), Metadata: meta{msgs[0], t.q.name}}
			if t.many {
				for _, m := range msgs {
					ev.Batch = append(ev.Batch, t.data(m))
				}
			} else {
				ev.Data = t.data(msgs[0])
			}
			res := exec.Execute(ctx, ev)
			for _, m := range msgs {
				t.q.settle(m, res.Status, t.opts.MaxDeliveries)
			}
		}()
	}
}

type inputConfig struct {
	Key string `binding:"key,required"`
}

type input struct{ key *driver.Template }

func newInput(_ context.Context, bc *driver.BindContext) (driver.Input, error) {
	var cfg inputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	t, err := bc.Template("key")
	if err != nil {
		return nil, err
	}
	return &input{key: t}, nil
}

func (in *input) Bind(_ context.Context, fc *driver.FunctionContext) (any, error) {
	k, err := in.key.Eval(fc)
	if err != nil {
		return nil, err
	}
	v, ok := Default.Get(k)
	if !ok {
		return nil, nil
	}
	return v, nil
}

type outputConfig struct {
	Queue string `binding:"queue,required"`
}

type output struct{ queue *driver.Template }

func newOutput(_ context.Context, bc *driver.BindContext) (driver.Output, error) {
	var cfg outputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	t, err := bc.Template("queue")
	if err != nil {
		return nil, err
	}
	return &output{queue: t}, nil
}

type sink struct {
	q     *Queue
	items [][]byte
}

func (o *output) Open(_ context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	name, err := o.queue.Eval(fc)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("queue name evaluated to an empty string")
	}
	return &sink{q: Default.Queue(name)}, nil
}

func (s *sink) Add(_ context.Context, item any) error {
	b, _, err := driver.Encode(item)
	if err != nil {
		return err
	}
	s.items = append(s.items, b)
	return nil
}

func (s *sink) Flush(context.Context) error {
	for _, b := range s.items {
		s.q.Send(b)
	}
	s.items = nil
	return nil
}

// QueueNames lists the default broker's queues.
func QueueNames() []string {
	Default.mu.Lock()
	defer Default.mu.Unlock()
	out := make([]string, 0, len(Default.queues))
	for n := range Default.queues {
		out = append(out, n)
	}
	return out
}
