package extension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/azbind/azbind/extension/driver"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// function is a built, runnable function: the Executor its trigger drives.
type function struct {
	host      *Host
	spec      *FunctionSpec
	name      string
	trigType  string
	handler   Handler
	trigger   driver.Trigger
	trigSlot  int // index of the trigger binding
	many      bool
	batch     func([]any) (any, error)
	slots     []slot
	inputs    []*boundInput // by binding index (nil for non-inputs)
	outputs   []*boundOutput
	result    resultPlan
	retry     *RetryPolicy
	timeout   time.Duration // <=0: none
	logger    *slog.Logger
	tracer    trace.Tracer // nil when tracing is a no-op
	globalTP  bool         // tracer is otel's global provider's: skipped while no provider is set
	spanName  string
	spanOpts  []trace.SpanStartOption
	metCount  metric.Int64Counter // nil without a MeterProvider
	metDur    metric.Float64Histogram
	metAttrs  [3]metric.MeasurementOption // by Status
	invoke    InvokeFunc                  // middleware chain around core
	bindings  []*BindingSpec              // resolved declarations (Dynamic handlers see them)
	dataNames []string                    // the trigger's binding-data contract (nil if it declares none)
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

// Execute implements Executor: the function's retry loop around attempts (checklist C57).
func (f *function) Execute(ctx context.Context, ev *driver.Event) driver.Result {
	var rc RetryContext
	if f.retry != nil {
		rc.MaxRetryCount = f.retry.MaxRetryCount
	}
	for {
		cancelled, reply, err := f.attempt(ctx, ev, rc)
		if err == nil {
			return driver.Result{Status: driver.Succeeded, Reply: reply}
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
func (f *function) attempt(parent context.Context, ev *driver.Event, rc RetryContext) (cancelled bool, reply any, err error) {
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
		return true, nil, errShutdownCancel
	}
	defer h.untrack(inv)

	var ctx context.Context = inv
	var span trace.Span
	if f.tracer != nil && !(f.globalTP && globalTracingOff()) {
		ctx, span = f.tracer.Start(ctx, f.spanName, f.spanOpts...)
	}
	// As Functions, every attempt is logged at Information when it starts and when it ends
	// ("Executing 'Functions.<Name>' (Reason=…, Id=…)", "Executed … (Succeeded, Id=…,
	// Duration=…ms)"); host.json logging.logLevel "Function" or "Function.<Name>" quiets them.
	if f.logger.Enabled(ctx, slog.LevelInfo) {
		reason := ev.Reason
		if reason == "" {
			reason = f.trigType
		}
		inv.fc.Logger().LogAttrs(ctx, slog.LevelInfo, "Executing 'Functions."+f.name+"' (Reason='"+reason+"', Id="+inv.fc.InvocationID()+")",
			slog.String("event_id", ev.ID), slog.Int("retry_count", rc.RetryCount))
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
		d := h.clock.Now().Sub(inv.fc.Started)
		st := "Failed"
		if cancelled {
			st = "Cancelled"
		}
		inv.fc.Logger().LogAttrs(ctx, lvl, "Executed 'Functions."+f.name+"' ("+st+", Id="+inv.fc.InvocationID()+", Duration="+strconv.FormatInt(d.Milliseconds(), 10)+"ms): invocation failed", slog.String("error", err.Error()),
			slog.String("event_id", ev.ID), slog.Int("retry_count", rc.RetryCount), slog.Bool("cancelled", cancelled),
			slog.Duration("duration", d))
	} else if f.logger.Enabled(ctx, slog.LevelInfo) {
		d := h.clock.Now().Sub(inv.fc.Started)
		inv.fc.Logger().LogAttrs(ctx, slog.LevelInfo, "Executed 'Functions."+f.name+"' (Succeeded, Id="+inv.fc.InvocationID()+", Duration="+strconv.FormatInt(d.Milliseconds(), 10)+"ms)", slog.Duration("duration", d))
	}
	if err == nil {
		inv.mu.Lock()
		reply = inv.reply
		inv.mu.Unlock()
	}
	return cancelled, reply, err
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
	if f.handler.dynamic != nil {
		return f.coreDynamic(ctx, inv)
	}
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
	return f.flushOutputs(ctx, inv)
}

// flushOutputs closes the attempt's outputs to new items and flushes every opened sink.
func (f *function) flushOutputs(ctx context.Context, inv *invocation) error {
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

// globalDelegate is the type of otel's global TracerProvider before a program sets one: a
// delegating provider whose spans record nothing, yet cost three allocations each (the span and
// the context carrying it). Nil if a provider was set before this package was initialised.
var globalDelegate = func() reflect.Type {
	t := reflect.TypeOf(otel.GetTracerProvider())
	if t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global" {
		return t
	}
	return nil
}()

// globalTracingOff reports whether otel's global TracerProvider is still the unset default (or a
// no-op provider); it is asked per attempt, so a provider set after the host started is used from
// the next invocation on.
func globalTracingOff() bool {
	tp := otel.GetTracerProvider()
	if _, ok := tp.(noop.TracerProvider); ok {
		return true
	}
	return globalDelegate != nil && reflect.TypeOf(tp) == globalDelegate
}
