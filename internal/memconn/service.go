package memconn

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// Broker is the simulated service: queues, streams and a key/value store, shared by every host
// in the process. (Publisher, below, simulates a service that pushes.)
type Broker struct {
	mu      sync.Mutex
	queues  map[string]*Queue
	streams map[string]*Stream
	kv      map[string][]byte
}

// Default is the process-wide broker the registered bindings use. It is the simulated service,
// not connector state: what a connector holds per host lives in values the host owns (see the
// push router, a driver.Shared value).
var Default = &Broker{queues: map[string]*Queue{}, streams: map[string]*Stream{}, kv: map[string][]byte{}}

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

// Stream returns (creating, with StreamPartitions partitions) the named stream.
func (b *Broker) Stream(name string) *Stream {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.streams[name]
	if !ok {
		s = &Stream{name: name, parts: make([][]streamEvent, StreamPartitions), grown: make(chan struct{})}
		b.streams[name] = s
	}
	return s
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

// StreamPartitions is the number of partitions of every stream.
const StreamPartitions = 4

type streamEvent struct {
	key  string
	body []byte
}

// Stream is an append-only log split into partitions (an event hub). Events sent with the same
// partition key land in one partition, in order; events without a key are spread round-robin.
// Reading does not remove anything: each consumer group keeps its own checkpoints.
type Stream struct {
	name  string
	mu    sync.Mutex
	parts [][]streamEvent // by partition; an event's index is its sequence number
	rr    int
	grown chan struct{} // closed (and replaced) on every append: wakes every reader
}

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Send appends an event to the next partition, round-robin.
func (s *Stream) Send(body []byte) {
	s.mu.Lock()
	p := s.rr % len(s.parts)
	s.rr++
	s.appendLocked(p, "", body)
	s.mu.Unlock()
}

// SendKeyed appends an event to the partition of key.
func (s *Stream) SendKeyed(key string, body []byte) {
	h := fnv.New32a()
	h.Write([]byte(key))
	s.mu.Lock()
	s.appendLocked(int(h.Sum32()%uint32(len(s.parts))), key, body)
	s.mu.Unlock()
}

func (s *Stream) appendLocked(p int, key string, body []byte) {
	s.parts[p] = append(s.parts[p], streamEvent{key: key, body: append([]byte(nil), body...)})
	close(s.grown)
	s.grown = make(chan struct{})
}

// read returns up to n events of partition p from sequence number from on, and a channel that is
// closed at the next append.
func (s *Stream) read(p int, from int64, n int) ([]streamEvent, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	part := s.parts[p]
	if from >= int64(len(part)) {
		return nil, s.grown
	}
	end := min(int64(len(part)), from+int64(n))
	return part[from:end:end], s.grown
}

// Unprocessed counts the events of consumer group that lie beyond its checkpoints in store.
func (s *Stream) Unprocessed(ctx context.Context, store driver.HostStorage, group string) (int, error) {
	n := 0
	for p := range s.parts {
		next, err := loadCheckpoint(ctx, store, CheckpointKey(s.name, group, p))
		if err != nil {
			return 0, err
		}
		s.mu.Lock()
		n += len(s.parts[p]) - int(next)
		s.mu.Unlock()
	}
	return n, nil
}

// Publisher simulates the service that pushes (an Event Grid subscription). Publish holds an
// item and POSTs it to the target URL until it is answered with a 2xx; a 5xx other than 503 (a
// failed invocation) counts as a failed delivery and, after MaxAttempts of them, the item is
// dead-lettered; any other answer (503 from a stopping host, 404 before the function runs, no
// host at all) is retried without counting.
type Publisher struct {
	MaxAttempts int // dead-letter after this many failed invocations (0: never)
	// Request builds one delivery's HTTP request (default: a JSON POST carrying Memory-Item-Id),
	// so that a simulated service of another kind (an Event Grid subscription) reuses the loop.
	Request func(ctx context.Context, url string, id int, body []byte) (*http.Request, error)

	mu      sync.Mutex
	target  string
	changed chan struct{} // closed (and replaced) when the target changes
	pending map[int]bool
	dead    [][]byte
	seq     int
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// NewPublisher returns a publisher with no target yet; Close stops its deliveries.
func NewPublisher(maxAttempts int) *Publisher {
	ctx, stop := context.WithCancel(context.Background())
	return &Publisher{MaxAttempts: maxAttempts, changed: make(chan struct{}), pending: map[int]bool{}, ctx: ctx, stop: stop}
}

// SetTarget sets the URL deliveries go to from now on.
func (p *Publisher) SetTarget(url string) {
	p.mu.Lock()
	p.target = url
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Publish holds body and delivers it in the background.
func (p *Publisher) Publish(body []byte) {
	body = append([]byte(nil), body...)
	p.mu.Lock()
	p.seq++
	id := p.seq
	p.pending[id] = true
	p.mu.Unlock()
	p.wg.Go(func() { p.deliver(id, body) })
}

// Pending counts the items not yet answered with a 2xx nor dead-lettered.
func (p *Publisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// Dead returns the dead-lettered items.
func (p *Publisher) Dead() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.dead...)
}

// Close stops every delivery and waits for them.
func (p *Publisher) Close() {
	p.stop()
	p.wg.Wait()
}

func (p *Publisher) deliver(id int, body []byte) {
	failures := 0
	backoff := 5 * time.Millisecond
	for {
		p.mu.Lock()
		target, changed := p.target, p.changed
		p.mu.Unlock()
		code := 0
		if target != "" {
			code = p.post(target, id, body)
		}
		switch {
		case code >= 200 && code < 300:
			p.settle(id, nil)
			return
		case code/100 == 5 && code != http.StatusServiceUnavailable: // the invocation failed
			if failures++; p.MaxAttempts > 0 && failures >= p.MaxAttempts {
				p.settle(id, body)
				return
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-changed: // a new target: try it at once
			t.Stop()
			backoff = 5 * time.Millisecond
		case <-t.C:
			backoff = min(2*backoff, 100*time.Millisecond)
		}
	}
}

func (p *Publisher) post(url string, id int, body []byte) int {
	var req *http.Request
	var err error
	if p.Request != nil {
		req, err = p.Request(p.ctx, url, id, body)
	} else if req, err = http.NewRequestWithContext(p.ctx, http.MethodPost, url, bytes.NewReader(body)); err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Memory-Item-Id", fmt.Sprint(id))
	}
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (p *Publisher) settle(id int, dead []byte) {
	p.mu.Lock()
	delete(p.pending, id)
	if dead != nil {
		p.dead = append(p.dead, dead)
	}
	p.mu.Unlock()
}
