package extension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/extension/driver"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// function is a built, runnable function: the Executor its trigger drives.
type function struct {
	host     *Host
	spec     *FunctionSpec
	name     string
	trigType string
	handler  Handler
	trigger  driver.Trigger
	trigSlot int // index of the trigger binding
	many     bool
	batch    func([]any) (any, error)
	slots    []slot
	inputs   []*boundInput // by binding index (nil for non-inputs)
	outputs  []*boundOutput
	result   resultPlan
	retry    *RetryPolicy
	timeout  time.Duration // <=0: none
	logger   *slog.Logger
	tracer   trace.Tracer // nil when tracing is a no-op
	spanName string
	spanOpts []trace.SpanStartOption
	metCount metric.Int64Counter // nil without a MeterProvider
	metDur   metric.Float64Histogram
	metAttrs [3]metric.MeasurementOption // by Status
	invoke   InvokeFunc                  // middleware chain around core
}

type boundInput struct {
	spec *BindingSpec
	in   driver.Input
}

type boundOutput struct {
	spec *BindingSpec
	out  driver.Output
	typ  reflect.Type
}

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
		if v, ok := p[name]; ok {
			return v, true
		}
		for k, v := range p {
			if strings.EqualFold(k, name) {
				return v, true
			}
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
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.payloadDone {
		return inv.payload
	}
	inv.payloadDone = true
	b := inv.ev.Payload
	if b == nil {
		// Data stands in when it is the payload itself; a connector value (a message type, an
		// SDK client) is never serialized for binding data.
		switch x := inv.ev.Data.(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		case json.RawMessage:
			b = x
		}
	}
	if len(b) > 0 && b[0] == '{' || len(b) > 0 && strings.HasPrefix(strings.TrimSpace(string(b[:min(len(b), 64)])), "{") {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			inv.payload = m
		}
	}
	return inv.payload
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

// Execute implements Executor: the function's retry loop around attempts (checklist C57).
func (f *function) Execute(ctx context.Context, ev *driver.Event) driver.Result {
	var rc RetryContext
	if f.retry != nil {
		rc.MaxRetryCount = f.retry.MaxRetryCount
	}
	for {
		err, cancelled := f.attempt(ctx, ev, rc)
		if err == nil {
			return driver.Result{Status: driver.Succeeded}
		}
		if cancelled {
			return driver.Result{Status: driver.Cancelled, Err: err}
		}
		p := f.retry
		if p == nil || (p.MaxRetryCount >= 0 && rc.RetryCount >= p.MaxRetryCount) {
			return driver.Result{Status: driver.Failed, Err: err}
		}
		delay := p.delay(rc.RetryCount)
		rc.RetryCount++
		rc.LastErr = err
		f.logger.LogAttrs(ctx, slog.LevelWarn, "invocation failed; retrying",
			slog.Int("retry_count", rc.RetryCount), slog.Int("max_retry_count", p.MaxRetryCount),
			slog.Duration("delay", delay), slog.String("error", err.Error()))
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-f.host.draining:
			// As WebJobs: cancellation during the wait stops retrying (reference §5.1). The item is
			// not acknowledged; it comes back after the restart.
			t.Stop()
			return driver.Result{Status: driver.Cancelled, Err: fmt.Errorf("function %q: retry %d abandoned at shutdown: %w", f.name, rc.RetryCount, errors.Join(ErrShutdown, err))}
		}
	}
}

// delay is the wait before retry number n+1 (n = retries done so far).
func (p *RetryPolicy) delay(n int) time.Duration {
	if p.Strategy == FixedDelay {
		return p.DelayInterval
	}
	// Randomized exponential back-off as WebJobs: min, then min + min*2^k*jitter, capped at max.
	d := p.MinimumInterval
	if n > 0 {
		inc := float64(p.MinimumInterval) * float64(int64(1)<<min(n-1, 30)) * (0.8 + 0.4*rand.Float64())
		d = p.MinimumInterval + time.Duration(inc)
	}
	if p.MaximumInterval > 0 && d > p.MaximumInterval {
		d = p.MaximumInterval
	}
	return d
}

// attempt runs one attempt; cancelled reports a shutdown cancellation.
func (f *function) attempt(parent context.Context, ev *driver.Event, rc RetryContext) (err error, cancelled bool) {
	h := f.host
	inv := &invocation{parent: parent, f: f, ev: ev, idHi: rand.Uint64(), idLo: rand.Uint64()}
	inv.fc = FunctionContext{FunctionName: f.name, TriggerType: f.trigType, Metadata: ev.Metadata, Retry: rc, Invocation: (*invocationData)(inv)}
	if inv.fc.Metadata == nil {
		inv.fc.Metadata = driver.MapMetadata(nil)
	}
	inv.fc.Started = h.clock.Now()
	if f.timeout > 0 {
		inv.deadline = inv.fc.Started.Add(f.timeout)
	}
	if n := len(f.outputs); n <= len(inv.outsArr) {
		inv.outs = inv.outsArr[:n]
	} else {
		inv.outs = make([]outputState, n)
	}
	for i := range inv.outs {
		inv.outs[i].b = f.outputs[i]
		inv.outs[i].inv = inv
	}
	if !h.track(inv) {
		return errShutdownCancel, true
	}
	defer h.untrack(inv)

	var ctx context.Context = inv
	var span trace.Span
	if f.tracer != nil {
		ctx, span = f.tracer.Start(ctx, f.spanName, f.spanOpts...)
	}
	if f.logger.Enabled(ctx, slog.LevelDebug) {
		inv.fc.Logger().LogAttrs(ctx, slog.LevelDebug, "executing", slog.String("event_id", ev.ID), slog.Int("retry_count", rc.RetryCount))
	}

	err = f.safeInvoke(ctx)

	for i := range inv.outs { // (a failed attempt's sinks are discarded: no late items either)
		o := &inv.outs[i]
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
	}
	inv.closeAll()
	cerr := inv.Err()
	switch {
	case err == nil:
		// The work completed (outputs flushed); a cancellation that came after it does not undo it.
	case cerr == errTimeoutCancel:
		if err == errTimeoutCancel || !errors.Is(err, ErrFunctionTimeout) {
			err = fmt.Errorf("function %q exceeded its timeout of %v: %w", f.name, f.timeout, errors.Join(ErrFunctionTimeout, err))
		}
	case cerr == errShutdownCancel && err != nil:
		cancelled = true
	}
	if f.metCount != nil {
		st := driver.Succeeded
		if cancelled {
			st = driver.Cancelled
		} else if err != nil {
			st = driver.Failed
		}
		f.metCount.Add(ctx, 1, f.metAttrs[st])
		f.metDur.Record(ctx, h.clock.Now().Sub(inv.fc.Started).Seconds(), f.metAttrs[st])
	}
	if span != nil {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	if err != nil {
		lvl := slog.LevelError
		if cancelled {
			lvl = slog.LevelWarn
		}
		inv.fc.Logger().LogAttrs(ctx, lvl, "invocation failed", slog.String("error", err.Error()),
			slog.String("event_id", ev.ID), slog.Int("retry_count", rc.RetryCount), slog.Bool("cancelled", cancelled),
			slog.Duration("duration", h.clock.Now().Sub(inv.fc.Started)))
	} else if f.logger.Enabled(ctx, slog.LevelDebug) {
		inv.fc.Logger().LogAttrs(ctx, slog.LevelDebug, "executed", slog.Duration("duration", h.clock.Now().Sub(inv.fc.Started)))
	}
	return err, cancelled
}

// safeInvoke runs the middleware chain, turning panics into failures.
func (f *function) safeInvoke(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return f.invoke(ctx)
}

// core binds the arguments, calls the handler and writes the outputs.
func (f *function) core(ctx context.Context) (err error) {
	inv := (*invocation)(FromContext(ctx).Invocation.(*invocationData))
	var args []any
	if n := len(f.slots); n <= len(inv.args) {
		args = inv.args[:n]
	} else {
		args = make([]any, n)
	}
	for i := range f.slots {
		v, err := f.fill(ctx, inv, &f.slots[i])
		if err != nil {
			return err
		}
		args[i] = v
	}
	res, err := f.handler.call(ctx, args)
	if err != nil {
		return err
	}
	// A handler that returns after its function timeout fired has failed (the attempt reports
	// ErrFunctionTimeout), whatever it returned: its outputs must not be flushed.
	if inv.Err() == errTimeoutCancel {
		return errTimeoutCancel
	}
	if err := f.routeResult(ctx, inv, res); err != nil {
		return err
	}
	for i := range inv.outs {
		o := &inv.outs[i]
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
	}
	for i := range inv.outs {
		o := &inv.outs[i]
		if o.sink == nil {
			continue
		}
		if err := o.sink.Flush(ctx); err != nil {
			return fmt.Errorf("error while handling parameter %s after function returned: %w", o.b.spec.Name, err)
		}
	}
	return nil
}

func (f *function) fill(ctx context.Context, inv *invocation, s *slot) (any, error) {
	switch s.kind {
	case slotTrigger:
		if f.many {
			return f.batch(inv.ev.Batch)
		}
		src := inv.ev.Data
		if c, ok := src.(io.Closer); ok {
			inv.closers = append(inv.closers, c)
		}
		if src == nil {
			return nil, nil
		}
		v, err := s.conv(src)
		if err != nil {
			return nil, fmt.Errorf("trigger binding %q: %w", f.spec.Bindings[s.binding].Name, err)
		}
		return v, nil
	case slotInput:
		bi := f.inputs[s.binding]
		src, err := bi.in.Bind(ctx, &inv.fc)
		if err != nil {
			return nil, fmt.Errorf("input binding %q: %w", bi.spec.Name, err)
		}
		if c, ok := src.(io.Closer); ok {
			inv.closers = append(inv.closers, c)
		}
		if isNil(src) {
			return nil, nil
		}
		v, err := s.conv(src)
		if err != nil {
			return nil, fmt.Errorf("input binding %q: %w", bi.spec.Name, err)
		}
		return v, nil
	case slotCollector:
		c := reflect.New(s.typ.Elem())
		c.Interface().(collectorParam).setOutput(&inv.outs[s.out])
		return c.Interface(), nil
	case slotExtra:
		for _, x := range inv.ev.Extras {
			if xt := reflect.TypeOf(x); xt != nil && (xt == s.typ || s.typ.Kind() == reflect.Interface && xt.Implements(s.typ)) {
				return x, nil
			}
		}
		return nil, nil // absent: the zero value
	case slotStruct:
		sv := reflect.New(s.typ).Elem()
		for i := range s.fields {
			fs := &s.fields[i]
			v, err := f.fill(ctx, inv, &fs.slot)
			if err != nil {
				return nil, err
			}
			if v != nil {
				fieldAlloc(sv, fs.index).Set(reflect.ValueOf(v))
			}
		}
		return sv.Interface(), nil
	}
	return nil, nil
}

func (f *function) routeResult(ctx context.Context, inv *invocation, res any) error {
	rp := &f.result
	if rp.ret >= 0 {
		return inv.outs[rp.ret].write(ctx, res, rp.typ)
	}
	if len(rp.fields) == 0 || res == nil {
		return nil
	}
	rv := reflect.ValueOf(res)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	for _, fr := range rp.fields {
		fv, err := rv.FieldByIndexErr(fr.index)
		if err != nil {
			continue // a field promoted through a nil embedded pointer: nil, writes nothing
		}
		if err := inv.outs[fr.out].write(ctx, fv.Interface(), fr.typ); err != nil {
			return err
		}
	}
	return nil
}

// fieldAlloc is v.FieldByIndex(index) for a settable struct v, allocating nil embedded struct
// pointers on the way (fields promoted through an embedded *T).
func fieldAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// closeAll closes the binding values that are io.Closers. A panicking Close is logged, never
// allowed to crash the host; it does not change the attempt's outcome (the work is done).
func (inv *invocation) closeAll() {
	for _, c := range inv.closers {
		func() {
			defer func() {
				if r := recover(); r != nil {
					inv.fc.Logger().LogAttrs(inv.parent, slog.LevelError, "closing a binding value panicked",
						slog.String("error", fmt.Sprint(r)), slog.String("type", fmt.Sprintf("%T", c)))
				}
			}()
			c.Close()
		}()
	}
}
