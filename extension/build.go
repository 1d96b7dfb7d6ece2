package extension

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/azbind/azbind/extension/driver"

	"github.com/azbind/azbind/extension/expr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// build checks every declaration and builds every enabled function.
func (h *Host) build(ctx context.Context) error { return h.buildMode(ctx, false) }

// Verify checks every declared function the way Run would — declarations, %settings%, handler
// signatures where handlers are supplied, and every binding factory of the registered connectors
// (required properties, expressions against the trigger's binding data, connections) — without
// starting anything. Functions without a Go handler are checked too (their bindings are built
// for the default parameter types). It returns all problems at once. A host that was verified
// can still Run.
func (h *Host) Verify(ctx context.Context) error {
	err := h.buildMode(ctx, true)
	h.mu.Lock()
	funcs := h.funcs
	h.running, h.funcs = false, nil
	h.mu.Unlock()
	h.closeAll(funcs) // what Verify built is closed at once
	return err
}

func (h *Host) buildMode(ctx context.Context, verify bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running {
		return errors.New("extension: Run called twice")
	}
	h.running = true
	h.initServices()
	errs := append([]error(nil), h.declErrs...)
	id, err := h.resolveHostID()
	if err != nil {
		errs = append(errs, err)
	}
	h.services.HostID = id
	storageOK := true
	if h.opts.Storage == nil {
		st, err := h.defaultStorage(ctx)
		if err != nil {
			errs, storageOK = append(errs, err), false
		} else {
			h.services.Storage = st
		}
	}
	if storageOK {
		if err := h.openKeys(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if h.cfg == nil {
		// No host.json: the defaults, with AzureFunctionsJobHost__… settings applied on top, as
		// they are to a host.json file.
		cfg, ps := parseHostJSON("host.json (none: defaults)", []byte(`{"version": "2.0"}`), h.settings)
		var bad []Problem
		for _, p := range ps {
			if p.Warning {
				h.logger.Warn("host configuration", slog.String("problem", p.String()))
				continue
			}
			bad = append(bad, p)
		}
		if len(bad) > 0 {
			errs = append(errs, &ProblemsError{Problems: bad})
		}
		if cfg == nil {
			cfg = &HostConfig{Version: "2.0"}
		}
		h.cfg = cfg
	}
	if h.defaultLevel != nil {
		h.defaultLevel.Set(lowestLevel(h.cfg.LogLevels))
	}
	declared := map[string]bool{}
	for _, spec := range h.specs {
		declared[strings.ToLower(spec.Name)] = true
		var problems []error
		for _, p := range CheckFunction(spec, h.settings) {
			if p.Warning {
				h.logger.Warn("function declaration", slog.String("problem", p.String()))
				continue
			}
			problems = append(problems, errors.New(p.String()))
		}
		if len(problems) > 0 {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(problems...)))
			continue
		}
		if spec.Disabled || h.disabledBySetting(spec.Name) {
			h.logger.Info("function disabled", slog.String("function", spec.Name))
			continue
		}
		handler, ok := h.handlers[strings.ToLower(spec.Name)]
		ok = ok && handler.isSet() // (Func with the zero Handler: none of its own)
		if !ok && h.opts.DefaultHandler.isSet() {
			handler, ok = h.opts.DefaultHandler, true
		}
		if !ok && !verify {
			errs = append(errs, fmt.Errorf("%s: function %q has no Go handler: call Host.Handle(%q, …) before Run, or set HostOptions.DefaultHandler: %w", spec.Where, spec.Name, spec.Name, ErrInvalidConfig))
			continue
		}
		f, err := h.buildFunction(ctx, spec, handler)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h.funcs = append(h.funcs, f)
	}
	for name := range h.handlers {
		if !declared[name] && !verify {
			errs = append(errs, fmt.Errorf("handler %q was supplied with Handle but no function of that name is declared (function.json folders are matched by name): %w", name, ErrInvalidConfig))
		}
	}
	return errors.Join(errs...)
}

// disabledBySetting honours the app setting AzureWebJobs.<name>.Disabled=true.
func (h *Host) disabledBySetting(name string) bool {
	v, ok := h.settings.Get("AzureWebJobs." + name + ".Disabled")
	return ok && strings.EqualFold(strings.TrimSpace(v), "true")
}

// resolveProps expands %setting% in every string property (checklist C17).
func (h *Host) resolveProps(b *BindingSpec) error {
	lookup := func(n string) (string, bool) { return h.settings.Get(n) }
	for k, v := range b.Properties {
		s, ok := v.(string)
		if !ok || !strings.Contains(s, "%") {
			continue
		}
		if strings.EqualFold(k, "connection") {
			raw := s
			b.RawConnection = raw
		}
		r, err := expr.ResolveSettings(s, lookup)
		if err != nil {
			return fmt.Errorf("%s: %s: %w: define the app setting or remove the %%…%% token", b.Where, k, err)
		}
		b.Properties[k] = r
	}
	return nil
}

func (h *Host) buildFunction(ctx context.Context, spec *FunctionSpec, handler Handler) (*function, error) {
	f := &function{host: h, spec: spec, name: spec.Name, handler: handler, trigSlot: -1}
	f.logger = withLevel(h.logger, h.cfg.LogLevels, "Function."+spec.Name, "Function", "default").With(slog.String("function", spec.Name))
	f.retry = spec.Retry
	if f.retry == nil {
		f.retry = h.cfg.Retry
	}
	f.timeout = h.cfg.FunctionTimeout
	if f.timeout == 0 {
		f.timeout = DefaultFunctionTimeout
	}
	tp := h.opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
		f.globalTP = true
	}
	if _, isNoop := tp.(noop.TracerProvider); !isNoop {
		f.tracer = tp.Tracer("github.com/azbind/azbind/extension")
	}
	f.spanName = "invoke " + spec.Name
	if mp := h.opts.MeterProvider; mp != nil {
		m := mp.Meter("github.com/azbind/azbind/extension")
		var err error
		if f.metCount, err = m.Int64Counter("azbind.invocations", metric.WithDescription("Function invocation attempts by outcome")); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if f.metDur, err = m.Float64Histogram("azbind.invocation.duration", metric.WithUnit("s"), metric.WithDescription("Function invocation attempt duration")); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		for i, st := range []string{"succeeded", "failed", "cancelled"} {
			f.metAttrs[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("function", spec.Name), attribute.String("status", st)))
		}
	}

	// Resolve %settings% on a copy of every binding.
	bindings := make([]*BindingSpec, len(spec.Bindings))
	for i, b := range spec.Bindings {
		c := *b
		c.Properties = make(map[string]any, len(b.Properties))
		for k, v := range b.Properties {
			c.Properties[k] = v
		}
		if err := h.resolveProps(&c); err != nil {
			return nil, err
		}
		bindings[i] = &c
		if c.IsTrigger() {
			f.trigSlot = i
		}
	}
	if f.trigSlot < 0 {
		return nil, fmt.Errorf("%s: no trigger binding: declare exactly one: %w", spec.Where, ErrInvalidConfig)
	}
	f.bindings = bindings
	trig := bindings[f.trigSlot]
	f.trigType = trig.Type
	f.logger = f.logger.With(slog.String("trigger", trig.Type))
	f.spanOpts = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("faas.name", spec.Name), attribute.String("faas.trigger", trig.Type))}
	f.many = trig.Many()

	pl := &plan{paramTypes: map[int]reflect.Type{}, outTypes: map[int]reflect.Type{}, result: resultPlan{ret: -1}}
	if handler.call != nil {
		var err error
		if pl, err = planHandler(spec, bindings, handler); err != nil {
			return nil, err
		}
	}
	plan := pl
	f.slots = plan.slots
	f.result = plan.result
	if handler.rawArg && len(f.slots) == 1 && f.slots[0].kind == slotTrigger && !f.many {
		conv := f.slots[0].conv
		f.slots[0].conv = func(src any) (any, error) {
			switch src.(type) {
			case []byte, string:
				return src, nil
			}
			return conv(src)
		}
	}

	// Outputs are indexed in declaration order.
	outIndex := map[int]int{}
	for i, b := range bindings {
		if !b.IsTrigger() && (b.Direction == DirOut || b.Direction == DirInOut) {
			outIndex[i] = len(f.outputs)
			f.outputs = append(f.outputs, &boundOutput{spec: b, typ: plan.outTypes[i]})
		}
	}
	f.inputs = make([]*boundInput, len(bindings))

	// Trigger first: its binding-data contract validates the other bindings' templates.
	bt, ext, ok := driver.Lookup(trig.Type)
	if !ok || bt.NewTrigger == nil {
		problem, fix := unknownTypeProblem(trig.Type, true)
		if ok {
			problem, fix = fmt.Sprintf("%q cannot be used as a trigger", trig.Type), "use a trigger type"
		}
		return nil, &driver.ConfigError{Where: trig.Where, Field: "type", Problem: problem, Fix: fix}
	}
	bc := h.bindContext(spec, trig, ext, plan.paramTypes[f.trigSlot], nil, trig.Type, f.retry)
	// Every binding is built even after one failed, so that all of a function's problems are
	// reported at once, as Functions does (the other bindings' templates are then not checked
	// against the trigger's binding data).
	var errs []error
	var err error
	f.trigger, err = callFactory(bt.NewTrigger, ctx, bc)
	if err != nil {
		f.trigger = nil
		errs = append(errs, wrapBindErr(trig, err))
	}
	var contract []string
	if c, ok := f.trigger.(driver.BindingDataContract); ok {
		contract = c.BindingData()
	}
	f.dataNames = contract
	if st := plan.paramTypes[f.trigSlot+len(bindings)]; f.many && handler.call != nil && st != nil {
		// (nil when the handler takes no parameters and ignores the batch)
		f.batch = batchConverter(st)
	}
	for i, b := range bindings {
		if i == f.trigSlot {
			continue
		}
		bt, ext, ok := driver.Lookup(b.Type)
		if !ok {
			problem, fix := unknownTypeProblem(b.Type, false)
			errs = append(errs, &driver.ConfigError{Where: b.Where, Field: "type", Problem: problem, Fix: fix})
			continue
		}
		if b.Direction == DirIn || b.Direction == DirInOut {
			if bt.NewInput == nil {
				errs = append(errs, fmt.Errorf("%s: direction: %s does not support direction %q: %w", b.Where, b.Type, b.Direction, ErrInvalidConfig))
			} else if in, err := callFactory(bt.NewInput, ctx, h.bindContext(spec, b, ext, plan.paramTypes[i], contract, trig.Type, f.retry)); err != nil {
				errs = append(errs, wrapBindErr(b, err))
			} else {
				f.inputs[i] = &boundInput{spec: b, in: in}
			}
		}
		if b.Direction == DirOut || b.Direction == DirInOut {
			if bt.NewOutput == nil {
				errs = append(errs, fmt.Errorf("%s: direction: %s does not support direction %q: %w", b.Where, b.Type, b.Direction, ErrInvalidConfig))
			} else if out, err := callFactory(bt.NewOutput, ctx, h.bindContext(spec, b, ext, plan.outTypes[i], contract, trig.Type, f.retry)); err != nil {
				errs = append(errs, wrapBindErr(b, err))
			} else {
				f.outputs[outIndex[i]].out = out
			}
		}
	}
	if len(errs) > 0 {
		for _, in := range f.inputs {
			if in != nil {
				closeLogged(h.logger, spec.Name, in.spec.Type, in.in)
			}
		}
		for _, o := range f.outputs {
			if o.out != nil {
				closeLogged(h.logger, spec.Name, o.spec.Type, o.out)
			}
		}
		if f.trigger != nil {
			closeLogged(h.logger, spec.Name, trig.Type, f.trigger)
		}
		return nil, errors.Join(errs...)
	}
	// Collector and result routes point at output indexes.
	for i := range f.slots {
		fixOut(&f.slots[i], outIndex)
	}
	if f.result.ret >= 0 {
		f.result.ret = outIndex[f.result.ret]
	}
	for i := range f.result.fields {
		f.result.fields[i].out = outIndex[f.result.fields[i].out]
	}

	// Middleware: first registered is outermost.
	f.invoke = f.core
	for i := len(h.opts.Middleware) - 1; i >= 0; i-- {
		f.invoke = h.opts.Middleware[i](f.invoke)
	}
	return f, nil
}

func fixOut(s *slot, outIndex map[int]int) {
	if s.kind == slotCollector {
		s.out = outIndex[s.binding]
	}
	for i := range s.fields {
		fixOut(&s.fields[i].slot, outIndex)
	}
}

// wrapBindErr names the binding in a factory's error: a *ConfigError without a location gets
// the binding's; other errors are prefixed with it unless they already name it.
func wrapBindErr(b *BindingSpec, err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && isJoinOf(err, j.Unwrap()) {
		// A join of several problems (Decode reports every missing property): each is named.
		named := make([]error, 0, len(j.Unwrap()))
		for _, e := range j.Unwrap() {
			named = append(named, wrapBindErr(b, e))
		}
		return errors.Join(named...)
	}
	var ce *driver.ConfigError
	if errors.As(err, &ce) {
		if ce.Where == "" {
			ce.Where = b.Where
		}
		return err
	}
	if strings.Contains(err.Error(), b.Where) {
		return err
	}
	return fmt.Errorf("%s (%s %q): %w", b.Where, b.Type, b.Name, err)
}

func (h *Host) bindContext(spec *FunctionSpec, b *BindingSpec, ext *driver.Extension, param reflect.Type, contract []string, trigType string, retry *RetryPolicy) *driver.BindContext {
	return &driver.BindContext{
		Function:    spec.Name,
		Spec:        b,
		Host:        h.services,
		Param:       param,
		Config:      h.cfg.Extension(ext.Name),
		TriggerData: contract,
		TriggerType: trigType,
		Extension:   ext.Name,
	}
}

// callFactory runs a connector's binding factory, turning a panic into an error (the caller names
// the binding).
func callFactory[T any](factory func(context.Context, *driver.BindContext) (T, error), ctx context.Context, bc *driver.BindContext) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the %s binding factory panicked: %v: %w", bc.Spec.Type, r, ErrInvalidConfig)
		}
	}()
	return factory(ctx, bc)
}

// isJoinOf reports whether err is an errors.Join of errs (its text is theirs, one per line), as
// opposed to one error wrapping several causes.
func isJoinOf(err error, errs []error) bool {
	if len(errs) < 2 {
		return false
	}
	texts := make([]string, 0, len(errs))
	for _, e := range errs {
		if e == nil {
			return false
		}
		texts = append(texts, e.Error())
	}
	return err.Error() == strings.Join(texts, "\n")
}
