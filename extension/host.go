package extension

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/expr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// HostOptions configure a Host; the zero value works (environment settings, slog.Default()).
type HostOptions struct {
	// Settings are the app settings (default: the environment, then AppDir's local.settings.json).
	Settings *connection.Settings
	// Connections resolves binding connections (default: connection.NewResolver(Settings, nil)).
	Connections ConnectionResolver
	Logger      *slog.Logger // default: slog.Default()
	// HostID overrides the host id (default: setting AzureFunctionsWebHost__hostid, else derived
	// from the machine name and the app folder; checklist C59).
	HostID  string
	Storage HostStorage // default: in-memory (see NewMemoryStorage)
	Mux     Mux         // default: a new http.ServeMux, served by you via Host.Handler
	Clock   Clock       // default: SystemClock
	// TracerProvider for invocation spans (default: otel's global provider, a no-op unless the
	// program configured one).
	TracerProvider trace.TracerProvider
	// MeterProvider records azbind.invocations (count, by function and status) and
	// azbind.invocation.duration (seconds) when set; nil records nothing.
	MeterProvider metric.MeterProvider
	// HostConfig is host.json (default: AppDir/host.json when LoadAppDir is used, else empty).
	HostConfig *HostConfig
	// ShutdownTimeout is the drain deadline: how long in-flight invocations may run after Run's
	// context is cancelled before they are cancelled (default 30 s).
	ShutdownTimeout time.Duration
	// Middleware wraps every invocation attempt; the first registered is the outermost.
	Middleware []Middleware
	// Concurrency is the processor count connectors plan for (default GOMAXPROCS; 1 when the
	// setting WEBSITE_SKU is Dynamic, as Functions does).
	Concurrency int
}

// Middleware wraps every invocation attempt; the first registered is the outermost. Call next to
// continue; FromContext(ctx) describes the invocation. A middleware may return an error without
// calling next (the attempt fails) and may replace ctx (e.g. to add values).
type Middleware func(next InvokeFunc) InvokeFunc

// InvokeFunc runs (the rest of) one invocation attempt.
type InvokeFunc func(ctx context.Context) error

// Host runs functions: it builds their bindings through the registered extensions, runs every
// trigger, and drains on shutdown.
type Host struct {
	opts     HostOptions
	settings *connection.Settings
	services *Services
	logger   *slog.Logger
	clock    Clock
	cfg      *HostConfig
	appDir   string

	mu       sync.Mutex
	specs    []*FunctionSpec
	handlers map[string]Handler // lower-case name
	declErrs []error
	funcs    []*function
	running  bool

	inflightMu sync.Mutex
	inflight   map[*invocation]struct{}
	stopping   bool
	draining   chan struct{} // closed when Run begins to drain (stop fetching)
	hardStop   chan struct{}
}

// NewHost creates a host. Declare functions with Func or LoadAppDir+Handle, then call Run.
func NewHost(opts HostOptions) (*Host, error) {
	h := &Host{opts: opts, handlers: map[string]Handler{}, inflight: map[*invocation]struct{}{}, draining: make(chan struct{}), hardStop: make(chan struct{})}
	h.logger = opts.Logger
	if h.logger == nil {
		h.logger = slog.Default()
	}
	h.clock = opts.Clock
	if h.clock == nil {
		h.clock = SystemClock
	}
	h.settings = opts.Settings
	h.cfg = opts.HostConfig
	return h, nil
}

// Func declares a function through the Go API. The bindings are checked exactly as function.json
// bindings are; problems are returned here and again by Run.
func (h *Host) Func(name string, handler Handler, bindings ...*BindingSpec) error {
	f := &FunctionSpec{Name: name, Where: "Go API: " + name}
	for i, b := range bindings {
		if b == nil {
			err := fmt.Errorf("Go API: %s: bindings[%d]: nil binding: %w", name, i, ErrInvalidConfig)
			h.addDeclErr(err)
			return err
		}
		c := *b
		c.Properties = make(map[string]any, len(b.Properties))
		for k, v := range b.Properties {
			c.Properties[k] = v
		}
		if c.Direction == "" && c.IsTrigger() {
			c.Direction = DirIn
		}
		c.Where = fmt.Sprintf("Go API: %s: bindings[%d]", name, i)
		f.Bindings = append(f.Bindings, &c)
	}
	if handler.err != nil {
		err := fmt.Errorf("Go API: %s: %w: %w", name, handler.err, ErrInvalidConfig)
		h.addDeclErr(err)
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running {
		return errors.New("extension: Func called after Run")
	}
	for _, s := range h.specs {
		if strings.EqualFold(s.Name, name) {
			err := fmt.Errorf("Go API: %s: function declared twice (also in %s): %w", name, s.Where, ErrInvalidConfig)
			h.declErrs = append(h.declErrs, err)
			return err
		}
	}
	h.specs = append(h.specs, f)
	h.handlers[strings.ToLower(name)] = handler
	return nil
}

func (h *Host) addDeclErr(err error) {
	h.mu.Lock()
	h.declErrs = append(h.declErrs, err)
	h.mu.Unlock()
}

// Handle supplies the Go handler of a function declared in an app folder (LoadAppDir).
func (h *Host) Handle(name string, handler Handler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if handler.err != nil {
		h.declErrs = append(h.declErrs, fmt.Errorf("handler for %s: %w: %w", name, handler.err, ErrInvalidConfig))
		return
	}
	h.handlers[strings.ToLower(name)] = handler
}

// LoadAppDir declares every function of a Functions app folder (host.json, */function.json,
// local.settings.json). Handlers are matched by function name (Handle, before or after). When
// HostOptions.Settings is nil, the folder's local.settings.json joins the environment.
func (h *Host) LoadAppDir(dir string) error {
	app, err := LoadAppDir(dir, h.opts.Settings)
	if app != nil {
		for _, w := range app.Warnings {
			h.logger.Warn("app folder", slog.String("problem", w.String()))
		}
	}
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.settings == nil {
		h.settings = app.Settings
	}
	if h.cfg == nil {
		h.cfg = app.Host
	}
	if abs, err := filepath.Abs(dir); err == nil {
		h.appDir = abs
	}
	h.specs = append(h.specs, app.Functions...)
	return nil
}

// Handler returns the host's HTTP handler (the default Mux), where pushed triggers mount their
// webhooks. Serve it with net/http. It is nil when HostOptions.Mux was set.
func (h *Host) Handler() http.Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initServices()
	if m, ok := h.services.Mux.(*http.ServeMux); ok && h.opts.Mux == nil {
		return m
	}
	return nil
}

// Services returns the host services handed to connectors (after Run has started, or for tests).
func (h *Host) Services() *Services {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initServices()
	return h.services
}

func (h *Host) initServices() {
	if h.services != nil {
		return
	}
	if h.settings == nil {
		s, err := connection.NewDefaultSettings("")
		if err != nil {
			s = connection.NewSettings()
		}
		h.settings = s
	}
	s := &Services{Logger: h.logger, Settings: h.settings, Clock: h.clock}
	s.Connections = h.opts.Connections
	if s.Connections == nil {
		s.Connections = connection.NewResolver(h.settings, nil)
	}
	s.Storage = h.opts.Storage
	if s.Storage == nil {
		s.Storage = NewMemoryStorage()
	}
	s.Mux = h.opts.Mux
	if s.Mux == nil {
		s.Mux = http.NewServeMux()
	}
	s.Concurrency = h.opts.Concurrency
	if s.Concurrency <= 0 {
		s.Concurrency = runtime.GOMAXPROCS(0)
		if v, _ := h.settings.Get("WEBSITE_SKU"); strings.EqualFold(v, "Dynamic") {
			s.Concurrency = 1
		}
	}
	h.services = s
}

// hostIDPattern: 1–32 chars, lowercase letters, digits and single inner dashes (C59).
var hostIDPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){0,31}$`)

func (h *Host) resolveHostID() (string, error) {
	id, where := h.opts.HostID, "HostOptions.HostID"
	if id == "" {
		if kv, ok := h.settings.Lookup("AzureFunctionsWebHost:hostid"); ok {
			id, where = kv.Value, "setting "+kv.Key
		}
	}
	if id != "" {
		id = strings.ToLower(id)
		if len(id) > 32 || !hostIDPattern.MatchString(id) {
			return "", fmt.Errorf("%s: host id %q is invalid: use 1–32 lowercase letters, digits and single dashes, not at the start or end (a longer id would be truncated and could collide with another app's): %w", where, id, ErrInvalidConfig)
		}
		return id, nil
	}
	// Derived: <machine name>-<hash of the app>, stable per app and machine (as Functions does
	// locally), never truncated into a collision: the hash is always kept whole. The app is its
	// folder (LoadAppDir), else the program's main package and its function names.
	name, _ := os.Hostname()
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	machine := b.String()
	if machine == "" {
		machine = "host"
	}
	hs := fnv.New32a()
	key := h.appDir
	if key == "" {
		// The program, by its main package path (the executable's path changes on every `go run`);
		// a main built from file arguments has no path, so the working folder stands in for it.
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" && bi.Path != "command-line-arguments" {
			key = bi.Path
		} else if wd, err := os.Getwd(); err == nil {
			key = "cwd:" + wd
		} else {
			key, _ = os.Executable()
		}
		names := make([]string, 0, len(h.specs))
		for _, s := range h.specs {
			names = append(names, strings.ToLower(s.Name))
		}
		sort.Strings(names)
		key += "|" + strings.Join(names, ",")
	}
	hs.Write([]byte(key))
	suffix := fmt.Sprintf("%08x", hs.Sum32())
	if len(machine) > 32-1-len(suffix) {
		machine = machine[:32-1-len(suffix)]
	}
	return machine + "-" + suffix, nil
}

// checkFunctionHook is CheckFunction, replaceable while the loader is developed in parallel.
var checkFunctionHook = CheckFunction

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
	h.running, h.funcs = false, nil
	h.mu.Unlock()
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
	if h.opts.Storage == nil {
		st, err := h.defaultStorage(ctx)
		switch {
		case err != nil:
			errs = append(errs, err)
		case st != nil:
			h.services.Storage = st
		default:
			h.logger.Debug("host storage is in memory: receipts, locks and checkpoints do not survive a restart")
		}
	}
	if id != "" && len(errs) == 0 {
		h.checkHostIDCollision(ctx)
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
	declared := map[string]bool{}
	for _, spec := range h.specs {
		declared[strings.ToLower(spec.Name)] = true
		var problems []error
		for _, p := range checkFunctionHook(spec, h.settings) {
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
		if !ok && !verify {
			errs = append(errs, fmt.Errorf("%s: function %q has no Go handler: call Host.Handle(%q, …) before Run: %w", spec.Where, spec.Name, spec.Name, ErrInvalidConfig))
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
			b.rawConnection = &raw
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
	bt, ext, ok := Lookup(trig.Type)
	if !ok || bt.NewTrigger == nil {
		return nil, fmt.Errorf("%s: type: %q is not a registered trigger type (registered: %s): import the connector package: %w", trig.Where, trig.Type, strings.Join(BindingTypes(), ", "), ErrInvalidConfig)
	}
	bc := h.bindContext(spec, trig, ext, plan.paramTypes[f.trigSlot], nil, trig.Type, f.retry)
	var err error
	f.trigger, err = callFactory(bt.NewTrigger, ctx, bc)
	if err != nil {
		return nil, wrapBindErr(trig, err)
	}
	var contract []string
	if c, ok := f.trigger.(BindingDataContract); ok {
		contract = c.BindingData()
	}
	if st := plan.paramTypes[f.trigSlot+len(bindings)]; f.many && handler.call != nil && st != nil {
		// (nil when the handler takes no parameters and ignores the batch)
		f.batch = batchConverter(st)
	}
	for i, b := range bindings {
		if i == f.trigSlot {
			continue
		}
		bt, ext, ok := Lookup(b.Type)
		if !ok {
			return nil, fmt.Errorf("%s: type: %q is not a registered binding type (registered: %s): import the connector package: %w", b.Where, b.Type, strings.Join(BindingTypes(), ", "), ErrInvalidConfig)
		}
		if b.Direction == DirIn || b.Direction == DirInOut {
			if bt.NewInput == nil {
				return nil, fmt.Errorf("%s: direction: %s does not support direction %q: %w", b.Where, b.Type, b.Direction, ErrInvalidConfig)
			}
			in, err := callFactory(bt.NewInput, ctx, h.bindContext(spec, b, ext, plan.paramTypes[i], contract, trig.Type, f.retry))
			if err != nil {
				return nil, wrapBindErr(b, err)
			}
			f.inputs[i] = &boundInput{spec: b, in: in}
		}
		if b.Direction == DirOut || b.Direction == DirInOut {
			if bt.NewOutput == nil {
				return nil, fmt.Errorf("%s: direction: %s does not support direction %q: %w", b.Where, b.Type, b.Direction, ErrInvalidConfig)
			}
			out, err := callFactory(bt.NewOutput, ctx, h.bindContext(spec, b, ext, plan.outTypes[i], contract, trig.Type, f.retry))
			if err != nil {
				return nil, wrapBindErr(b, err)
			}
			f.outputs[outIndex[i]].out = out
		}
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

func wrapBindErr(b *BindingSpec, err error) error {
	if strings.Contains(err.Error(), b.Where) {
		return err
	}
	return fmt.Errorf("%s (%s %q): %w", b.Where, b.Type, b.Name, err)
}

func (h *Host) bindContext(spec *FunctionSpec, b *BindingSpec, ext *Extension, param reflect.Type, contract []string, trigType string, retry *RetryPolicy) *BindContext {
	return &BindContext{
		Function:    spec.Name,
		Spec:        b,
		Host:        h.services,
		Param:       param,
		Config:      h.cfg.Extension(ext.Name),
		TriggerData: contract,
		TriggerType: trigType,
		retry:       retry,
	}
}

// plan is the result of matching a handler to bindings.
type plan struct {
	slots      []slot
	result     resultPlan
	paramTypes map[int]reflect.Type // binding index -> param type (element type for many); index+len: slice type
	outTypes   map[int]reflect.Type // output binding index -> item type
}

func planHandler(spec *FunctionSpec, bindings []*BindingSpec, h Handler) (*plan, error) {
	where := spec.Where
	p := &plan{paramTypes: map[int]reflect.Type{}, outTypes: map[int]reflect.Type{}, result: resultPlan{ret: -1}}
	trig := -1
	var inputs, outs []int
	ret := -1
	for i, b := range bindings {
		switch {
		case b.IsTrigger():
			trig = i
		case b.Name == "$return":
			if b.Direction != DirOut {
				return nil, fmt.Errorf("%s: name: $return is only valid on an out binding: %w", b.Where, ErrInvalidConfig)
			}
			ret = i
		case b.Direction == DirIn || b.Direction == DirInOut:
			inputs = append(inputs, i)
			if b.Direction == DirInOut {
				outs = append(outs, i)
			}
		case b.Direction == DirOut:
			outs = append(outs, i)
		}
	}
	written := map[int]bool{}
	byName := func(name string) int {
		for i, b := range bindings {
			if strings.EqualFold(b.Name, name) {
				return i
			}
		}
		return -1
	}
	// Result.
	if rt := h.result; rt != nil {
		if fields := taggedFields(rt); fields != nil || (rt.Kind() == reflect.Pointer && taggedFields(rt.Elem()) != nil) {
			if fields == nil {
				fields = taggedFields(rt.Elem())
			}
			for _, fd := range fields {
				i := byName(fd.Tag.Get("azbind"))
				if i < 0 || bindings[i].IsTrigger() || (bindings[i].Direction != DirOut && bindings[i].Direction != DirInOut) {
					return nil, fmt.Errorf("%s: result field %s is tagged azbind:%q but the function has no out binding of that name: %w", where, fd.Name, fd.Tag.Get("azbind"), ErrInvalidConfig)
				}
				p.result.fields = append(p.result.fields, fieldRoute{index: fd.Index, out: i, typ: fd.Type})
				p.outTypes[i] = itemType(fd.Type)
				written[i] = true
			}
		} else {
			if ret < 0 {
				return nil, fmt.Errorf("%s: the handler returns %v but the function declares no \"$return\" out binding: add one, or return only error: %w", where, rt, ErrInvalidConfig)
			}
			p.result.ret = ret
			p.result.typ = rt
			p.outTypes[ret] = itemType(rt)
			written[ret] = true
		}
	}
	if ret >= 0 && !written[ret] {
		return nil, fmt.Errorf("%s: the function declares a \"$return\" binding but the handler returns only error: return (R, error): %w", where, ErrInvalidConfig)
	}
	// Parameters.
	fill := func(bi int, t reflect.Type) (slot, error) {
		b := bindings[bi]
		switch {
		case bi == trig:
			pt := t
			if b.Many() {
				if t.Kind() != reflect.Slice || isBytesLike(t) {
					return slot{}, fmt.Errorf("%s: cardinality many needs a slice parameter, got %v: %w", b.Where, t, ErrInvalidConfig)
				}
				pt = t.Elem()
				p.paramTypes[bi+len(bindings)] = t
			}
			p.paramTypes[bi] = pt
			return slot{kind: slotTrigger, binding: bi, typ: t, conv: makeConverter(t)}, nil
		case isCollectorType(t):
			if b.Direction != DirOut && b.Direction != DirInOut {
				return slot{}, fmt.Errorf("%s: a *Collector parameter needs an out binding, %q is %q: %w", b.Where, b.Name, b.Direction, ErrInvalidConfig)
			}
			if written[bi] {
				return slot{}, fmt.Errorf("%s: output %q is written by both the result and a Collector: %w", b.Where, b.Name, ErrInvalidConfig)
			}
			written[bi] = true
			p.outTypes[bi] = collectorElem(t)
			return slot{kind: slotCollector, binding: bi, typ: t}, nil
		case b.Direction == DirIn || b.Direction == DirInOut:
			p.paramTypes[bi] = t
			return slot{kind: slotInput, binding: bi, typ: t, conv: makeConverter(t)}, nil
		}
		return slot{}, fmt.Errorf("%s: binding %q (direction %s) cannot be a handler parameter of type %v; outputs are written through the result or a *extension.Collector[T] parameter: %w", b.Where, b.Name, b.Direction, t, ErrInvalidConfig)
	}
	used := map[int]bool{}
	if len(h.params) == 1 && taggedFields(h.params[0]) != nil {
		st := h.params[0]
		s := slot{kind: slotStruct, typ: st}
		for _, fd := range taggedFields(st) {
			i := byName(fd.Tag.Get("azbind"))
			if i < 0 {
				return nil, fmt.Errorf("%s: parameter field %s is tagged azbind:%q but the function has no binding of that name: %w", where, fd.Name, fd.Tag.Get("azbind"), ErrInvalidConfig)
			}
			if e := unexportedEmbeddedPtr(st, fd.Index); e != "" {
				return nil, fmt.Errorf("%s: parameter field %s is promoted through the unexported embedded pointer %s, which the runtime cannot allocate: export its type or embed it by value: %w", where, fd.Name, e, ErrInvalidConfig)
			}
			fs, err := fill(i, fd.Type)
			if err != nil {
				return nil, err
			}
			used[i] = true
			s.fields = append(s.fields, fieldSlot{index: fd.Index, slot: fs})
		}
		p.slots = []slot{s}
	} else {
		order := append([]int{}, inputs...)
		if trig >= 0 {
			order = append([]int{trig}, order...)
		}
		for _, o := range outs {
			if !written[o] {
				order = append(order, o)
			}
		}
		if len(h.params) > len(order) {
			return nil, fmt.Errorf("%s: the handler %s takes %d parameters after ctx but the function has only %d bindings that can feed parameters (trigger, inputs, then Collectors for outputs): %w", where, h.desc, len(h.params), len(order), ErrInvalidConfig)
		}
		for i, t := range h.params {
			s, err := fill(order[i], t)
			if err != nil {
				return nil, err
			}
			used[order[i]] = true
			p.slots = append(p.slots, s)
		}
	}
	if trig >= 0 && !used[trig] {
		// A handler may ignore the trigger value only if it takes no parameters at all.
		if len(h.params) > 0 {
			return nil, fmt.Errorf("%s: the handler does not receive the trigger %q: %w", where, bindings[trig].Name, ErrInvalidConfig)
		}
		p.paramTypes[trig] = nil
	}
	for _, i := range inputs {
		if !used[i] && bindings[i].Direction == DirIn {
			return nil, fmt.Errorf("%s: input binding %q is not received by the handler %s: add a parameter (after the trigger, in declaration order) or a bindings-struct field: %w", where, bindings[i].Name, h.desc, ErrInvalidConfig)
		}
	}
	for _, o := range outs {
		if !written[o] {
			return nil, fmt.Errorf("%s: output binding %q is not written by the handler %s: return it (field tagged azbind:%q) or take a *extension.Collector[T] parameter: %w", where, bindings[o].Name, h.desc, bindings[o].Name, ErrInvalidConfig)
		}
	}
	return p, nil
}

// itemType is the type of one item written to an output from a value of type t.
func itemType(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Slice && !isBytesLike(t) {
		return t.Elem()
	}
	return t
}

// track registers an attempt; false when the host is past its drain deadline.
func (h *Host) track(inv *invocation) bool {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	select {
	case <-h.hardStop:
		return false
	default:
	}
	h.inflight[inv] = struct{}{}
	return true
}

func (h *Host) untrack(inv *invocation) {
	h.inflightMu.Lock()
	delete(h.inflight, inv)
	h.inflightMu.Unlock()
}

// InFlight returns the number of running invocation attempts.
func (h *Host) InFlight() int {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	return len(h.inflight)
}

// watchdog cancels attempts past their function timeout.
func (h *Host) watchdog(stop <-chan struct{}) {
	tick := time.Second
	for _, f := range h.funcs {
		if f.timeout > 0 {
			tick = min(tick, max(f.timeout/10, 5*time.Millisecond))
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := h.clock.Now()
		h.inflightMu.Lock()
		for inv := range h.inflight {
			if !inv.deadline.IsZero() && now.After(inv.deadline) {
				inv.cancel(errTimeoutCancel)
			}
		}
		h.inflightMu.Unlock()
	}
}

// Run builds every function, starts all triggers and blocks until ctx is cancelled (or a trigger
// fails to run). It then stops fetching, lets in-flight invocations finish within
// ShutdownTimeout, cancels the rest (their items are not acknowledged), waits for the triggers to
// settle, and returns. Declaration problems are returned before anything starts, all at once.
func (h *Host) Run(ctx context.Context) error {
	if err := h.build(ctx); err != nil {
		return err
	}
	log := h.logger
	log.Info("host started", slog.String("host_id", h.services.HostID), slog.Int("functions", len(h.funcs)))
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	defer stopListening()
	wdStop := make(chan struct{})
	go h.watchdog(wdStop)
	defer close(wdStop)

	type exit struct {
		f   *function
		err error
	}
	exits := make(chan exit, len(h.funcs))
	for _, f := range h.funcs {
		go func() {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("trigger panicked: %v", r)
					}
				}()
				err = f.trigger.Run(listenCtx, f)
			}()
			exits <- exit{f, err}
		}()
	}
	var errs []error
	remaining := len(h.funcs)
	record := func(e exit) {
		remaining--
		if e.err != nil {
			log.Error("trigger stopped with an error", slog.String("function", e.f.name), slog.String("trigger", e.f.trigType), slog.String("error", e.err.Error()))
			errs = append(errs, fmt.Errorf("function %s: trigger %s: %w", e.f.name, e.f.trigType, e.err))
		}
	}
wait:
	for remaining > 0 {
		select {
		case <-ctx.Done():
			break wait
		case e := <-exits:
			record(e)
			if e.err != nil {
				break wait
			}
		}
	}
	// Drain: stop fetching, let in-flight invocations finish; retry waits end now (§5.1).
	stopListening()
	close(h.draining)
	timeout := h.opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log.Info("host stopping", slog.Int("in_flight", h.InFlight()), slog.Duration("drain_timeout", timeout))
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
drain:
	for remaining > 0 {
		select {
		case e := <-exits:
			record(e)
		case <-deadline.C:
			break drain
		}
	}
	if remaining > 0 {
		n := h.cancelAll()
		log.Warn("drain deadline passed; cancelled in-flight invocations", slog.Int("cancelled", n))
		grace := time.NewTimer(max(timeout, 10*time.Second))
		defer grace.Stop()
	settle:
		for remaining > 0 {
			select {
			case e := <-exits:
				record(e)
			case <-grace.C:
				errs = append(errs, fmt.Errorf("%d trigger(s) did not stop after their invocations were cancelled: %w", remaining, ErrShutdown))
				break settle
			}
		}
	} else {
		h.cancelAll()
	}
	log.Info("host stopped")
	return errors.Join(errs...)
}

// cancelAll marks the host as past its drain deadline and cancels every running attempt.
func (h *Host) cancelAll() int {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	select {
	case <-h.hardStop:
	default:
		close(h.hardStop)
	}
	for inv := range h.inflight {
		inv.cancel(errShutdownCancel)
	}
	return len(h.inflight)
}

// Draining returns a channel that is closed when Run has told every trigger to stop fetching and
// begins to drain in-flight invocations (for tests, health endpoints and readiness probes).
func (h *Host) Draining() <-chan struct{} { return h.draining }

// HostID returns the host id once Run has built the host ("" before).
func (h *Host) HostID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.services == nil {
		return ""
	}
	return h.services.HostID
}

// unexportedEmbeddedPtr names the unexported embedded pointer field on the path index of struct
// type t ("" if none).
func unexportedEmbeddedPtr(t reflect.Type, index []int) string {
	for _, x := range index[:len(index)-1] {
		f := t.Field(x)
		t = f.Type
		if t.Kind() == reflect.Pointer {
			if !f.IsExported() {
				return f.Name
			}
			t = t.Elem()
		}
	}
	return ""
}

// callFactory runs a connector's binding factory, turning a panic into an error (the caller names
// the binding).
func callFactory[T any](factory func(context.Context, *BindContext) (T, error), ctx context.Context, bc *BindContext) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the %s binding factory panicked: %v: %w", bc.Spec.Type, r, ErrInvalidConfig)
		}
	}()
	return factory(ctx, bc)
}
