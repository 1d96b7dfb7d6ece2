// Package memconn is an in-memory connector used only by azbind's own tests. It proves the
// extension contract, drives the conformance suite without any emulator, and is the smallest
// complete example of a connector: start a new one from it. One file per concern:
//
//   - memconn.go: registration (one driver.Extension with its binding types and their Extras),
//     host.json options, and the Broker — the simulated service, shared by every host of the
//     process as a real service is.
//   - queue.go: "memTrigger", a queue trigger (Service Bus-like): at-least-once delivery,
//     redelivery on failure, dead-letter after maxDeliveries, batches for `cardinality: many`, and
//     settlement chosen by the handler through *Actions.
//   - stream.go: "memStreamTrigger", a partitioned log (Event Hubs-like): ordered per partition
//     key, partitions in parallel, checkpoints in durable host storage so that a restarted host
//     resumes where the last one stopped.
//   - push.go: "memPushTrigger", a pushed trigger (Event Grid-like): an HTTP POST on the host's Mux
//     runs the function and answers 202, 500 on failure, 503 once the host drains; Publisher
//     simulates the service that pushes.
//   - io.go: "mem", an input from the broker's key/value store and an output to a queue.
package memconn

import (
	"reflect"
	"sync"

	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{
		Name: "memory", // host.json "extensions": {"memory": {…}}, decoded into Options
		Bindings: []driver.BindingType{
			// *Actions is offered to handlers by type (BindingType.Extras, Event.Extras).
			{Type: "memTrigger", NewTrigger: newQueueTrigger, Extras: []reflect.Type{reflect.TypeFor[*Actions]()}},
			{Type: "memStreamTrigger", NewTrigger: newStreamTrigger},
			{Type: "memPushTrigger", NewTrigger: newPushTrigger},
			{Type: "mem", NewInput: newInput, NewOutput: newOutput},
		},
	})
}

// Options is the host.json "extensions.memory" section. The zero value means the defaults.
type Options struct {
	MaxDeliveries int `binding:"maxDeliveries"` // queue: dead-letter after this many failed deliveries (0: never)
	Concurrency   int `binding:"concurrency"`   // queue: invocations in flight per trigger (default 16)
	BatchSize     int `binding:"batchSize"`     // items per event with cardinality many (default 8)
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 8
	}
	return o
}

// options decodes the host.json section for a binding.
func options(bc *driver.BindContext) (Options, error) {
	var opts Options
	if err := bc.DecodeConfig(&opts); err != nil {
		return Options{}, err
	}
	return opts.withDefaults(), nil
}

// Broker is the simulated service: queues, streams and a key/value store, shared by every host
// in the process.
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
