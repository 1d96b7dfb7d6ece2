// The invocation: one attempt's state, which is also its context.Context, its binding data
// (driver.Invocation) and its outputs.

package extension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/azbind/azbind/extension/driver"

	"github.com/google/uuid"
)

// invocation is one attempt's state. It is also the attempt's context.Context: values come from
// the trigger's context, cancellation from the runtime (timeout, shutdown), so that no per-attempt
// context chain has to be allocated.
type invocation struct {
	fc     FunctionContext
	parent context.Context
	f      *function
	ev     *driver.Event

	mu       sync.Mutex
	done     chan struct{}
	err      error
	deadline time.Time
	idHi     uint64
	idLo     uint64
	idStr    string
	logger   *slog.Logger

	args    [2]any
	outsArr [2]outputState
	outs    []outputState
	closers []io.Closer

	payloadDone bool
	payload     map[string]any

	reply any // set by FunctionContext.SetReply (request/response triggers)

	prev, next *invocation // the host's in-flight list (Host.track)
}

var _ context.Context = (*invocation)(nil)

func (inv *invocation) Deadline() (time.Time, bool) { return inv.deadline, !inv.deadline.IsZero() }

func (inv *invocation) Done() <-chan struct{} {
	inv.mu.Lock()
	if inv.done == nil {
		inv.done = make(chan struct{})
		if inv.err != nil {
			close(inv.done)
		}
	}
	d := inv.done
	inv.mu.Unlock()
	return d
}

func (inv *invocation) Err() error {
	inv.mu.Lock()
	err := inv.err
	inv.mu.Unlock()
	return err
}

func (inv *invocation) Value(key any) any {
	if _, ok := key.(fcKey); ok {
		return &inv.fc
	}
	return inv.parent.Value(key)
}

func (inv *invocation) String() string { return "extension.invocation(" + inv.f.name + ")" }

// cancel cancels the attempt with err (context.Canceled-compatible errors, see cancelErr).
func (inv *invocation) cancel(err error) {
	inv.mu.Lock()
	if inv.err == nil {
		inv.err = err
		if inv.done != nil {
			close(inv.done)
		}
	}
	inv.mu.Unlock()
}

// cancelErr is the ctx.Err() of a cancelled attempt: it matches context.Canceled or
// context.DeadlineExceeded with errors.Is, and also the runtime's reason.
type cancelErr struct {
	ctxErr error
	reason error
}

func (e *cancelErr) Error() string   { return e.ctxErr.Error() + ": " + e.reason.Error() }
func (e *cancelErr) Unwrap() []error { return []error{e.ctxErr, e.reason} }

var (
	errTimeoutCancel  = &cancelErr{context.DeadlineExceeded, ErrFunctionTimeout}
	errShutdownCancel = &cancelErr{context.Canceled, ErrShutdown}
)

// invocationData is the invocation's binding data for expressions: top-level JSON payload
// properties, then trigger metadata (checklist C19).
type invocationData invocation

// As in WebJobs, the members of a JSON object payload are merged on top of the trigger's binding
// data (reference §3.1), so a payload property wins over trigger metadata of the same name.
func (d *invocationData) Value(name string) (any, bool) {
	inv := (*invocation)(d)
	if p := inv.payloadProps(); p != nil {
		if v, ok := driver.LookupFold(p, name); ok {
			return v, true
		}
	}
	if m := inv.fc.Metadata; m != nil {
		if v, ok := m.Lookup(name); ok {
			return v, true
		}
	}
	return nil, false
}

func (inv *invocation) payloadProps() map[string]any {
	// Only a JSON object has members: anything else is known at a glance, without the lock.
	b := inv.ev.Payload
	if b == nil {
		// Data stands in when it is the payload itself; a connector value (a message type, an
		// SDK client) is never serialized for binding data.
		switch x := inv.ev.Data.(type) {
		case []byte:
			b = x
		case string:
			if !jsonObject(x) {
				return nil
			}
			return inv.decodePayload(func() []byte { return []byte(x) })
		case json.RawMessage:
			b = x
		}
	}
	if !jsonObject(b) {
		return nil
	}
	return inv.decodePayload(func() []byte { return b })
}

// decodePayload decodes the JSON object payload once; raw is called only then (a string payload
// is copied into bytes once, not per lookup).
func (inv *invocation) decodePayload(raw func() []byte) map[string]any {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if !inv.payloadDone {
		inv.payloadDone = true
		var m map[string]any
		if json.Unmarshal(raw(), &m) == nil {
			inv.payload = m
		}
	}
	return inv.payload
}

// jsonObject reports whether b's first non-space byte opens a JSON object.
func jsonObject[T string | []byte](b T) bool {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

func (inv *invocation) now() time.Time { return inv.f.host.clock.Now() }

// ID implements driver.Invocation: the invocation's id (a random UUID, formatted on first use).
func (d *invocationData) ID() string {
	inv := (*invocation)(d)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.idStr == "" {
		var u uuid.UUID
		for i := 0; i < 8; i++ {
			u[i] = byte(inv.idHi >> (8 * i))
			u[8+i] = byte(inv.idLo >> (8 * i))
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		inv.idStr = u.String()
	}
	return inv.idStr
}

// Logger implements driver.Invocation: the invocation's logger, carrying the keys function,
// trigger and invocation_id.
func (d *invocationData) Logger() *slog.Logger {
	inv := (*invocation)(d)
	id := d.ID()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.logger == nil {
		inv.logger = inv.f.logger.With(slog.String("invocation_id", id))
	}
	return inv.logger
}

// Now implements driver.Invocation.
func (d *invocationData) Now() time.Time { return (*invocation)(d).now() }

// SetReply implements driver.Invocation.
func (d *invocationData) SetReply(v any) {
	inv := (*invocation)(d)
	inv.mu.Lock()
	inv.reply = v
	inv.mu.Unlock()
}

// outputState is one output binding's state within an attempt.
type outputState struct {
	b      *boundOutput
	inv    *invocation
	mu     sync.Mutex // serializes Open and Add: a Collector may be shared by goroutines
	sink   driver.Sink
	closed bool // the handler returned: no more items
}

// open returns the sink, opening it on first use; o.mu is held.
func (o *outputState) open(ctx context.Context) (driver.Sink, error) {
	if o.sink == nil {
		s, err := o.b.out.Open(ctx, &o.inv.fc)
		if err != nil {
			return nil, fmt.Errorf("output binding %q: %w", o.b.spec.Name, err)
		}
		o.sink = s
	}
	return o.sink, nil
}

func (o *outputState) add(ctx context.Context, item any) error {
	if o == nil {
		return errors.New("extension: Collector used outside an invocation")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("output binding %q: Collector used after the invocation returned: the item is not written", o.b.spec.Name)
	}
	s, err := o.open(ctx)
	if err != nil {
		return err
	}
	if err := s.Add(ctx, item); err != nil {
		return fmt.Errorf("output binding %q: %w", o.b.spec.Name, err)
	}
	return nil
}

// write sends a result value: nil writes nothing; a slice (other than bytes) writes each element.
func (o *outputState) write(ctx context.Context, v any, t reflect.Type) error {
	if isNil(v) {
		return nil
	}
	if t == nil {
		t = reflect.TypeOf(v)
	}
	if t.Kind() == reflect.Interface {
		t = reflect.TypeOf(v)
	}
	if t.Kind() == reflect.Slice && !isBytesLike(t) {
		rv := reflect.ValueOf(v)
		for i := 0; i < rv.Len(); i++ {
			if err := o.add(ctx, rv.Index(i).Interface()); err != nil {
				return err
			}
		}
		return nil
	}
	return o.add(ctx, v)
}
