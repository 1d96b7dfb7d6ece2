package extension

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	noopmetric "go.opentelemetry.io/otel/metric/noop"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/internal/hostkeys"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// LocalSettingsFile is the local.settings.json a Host without HostOptions.Settings or an app
// folder reads, relative to the working directory.
const LocalSettingsFile = "local.settings.json"

// HostOptions configure a Host; the zero value works (environment settings, slog.Default()).
type HostOptions struct {
	// Settings are the app settings. By default, as `func start` reads them: the environment,
	// then the Values of local.settings.json — the app folder's with LoadAppDir, else the one in
	// the working directory (LocalSettingsFile); a missing file is fine.
	Settings *connection.Settings
	// Connections resolves binding connections (default: connection.NewResolver(Settings, nil)).
	Connections ConnectionResolver
	Logger      *slog.Logger // default: slog.Default()
	// HostID overrides the host id (default: setting AzureFunctionsWebHost__hostid, else derived
	// from the machine name and the app folder; checklist C59).
	HostID string
	// Storage is the host storage (default: the azure-webjobs-hosts container of
	// AzureWebJobsStorage; memory, with a WARN, when that setting is absent).
	Storage HostStorage
	Clock   Clock // default: SystemClock
	// HTTPAddr, when set, makes Run serve the host's HTTP handler (webhooks such as Event Grid's,
	// and the /admin endpoints) itself on this address (e.g. ":7071", as `func start` listens);
	// default: the setting AZBIND_HTTP_ADDR, else none (serve Host.Handler yourself). The server
	// stops after the drain. See MaxRequestBodyBytes.
	HTTPAddr string
	// MaxRequestBodyBytes bounds request bodies, enforced while they are read: larger ones get
	// 413 (default: the setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, else 32 MiB — Functions
	// allows 100 MiB, which most handlers would hold in memory).
	MaxRequestBodyBytes int64
	// HTTP bounds the host's HTTP serving: timeouts, header size, minimum body rate (the zero
	// value has Kestrel's and Azure's defaults; see HTTPOptions).
	HTTP HTTPOptions
	// TracerProvider for invocation spans (default: otel's global provider; while the program has
	// not set one with otel.SetTracerProvider, no span is started, which saves three allocations
	// per invocation — a provider set later is used from the next invocation on).
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
	// DefaultHandler runs every function that has no handler of its own (Handle, Func): a
	// Dynamic handler, typically, such as a custom handler's (package customhandler). The zero
	// Handler means none: such a function is then a configuration error at Run.
	DefaultHandler Handler
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
	inflight   *invocation // running attempts (an intrusive list through invocation.prev/next)
	inflightN  int
	draining   chan struct{}   // closed when Run begins to drain (stop fetching)
	addr       string          // the own HTTP server's address, once listening
	keys       *hostkeys.Store // the Functions keys, once the storage is chosen
	guard      *guard          // Handler: drain, throttle and body guards before the router
	hardStop   chan struct{}

	manualMu     sync.Mutex // manual invocations (POST /admin/functions/<name>)
	manualClosed bool
	manualWG     sync.WaitGroup

	defaultLevel *slog.LevelVar // the default logger's level, when HostOptions.Logger is nil
}

// NewHost creates a host. Declare functions with Func or LoadAppDir+Handle, then call Run.
func NewHost(opts HostOptions) (*Host, error) {
	h := &Host{opts: opts, handlers: map[string]Handler{}, draining: make(chan struct{}), hardStop: make(chan struct{})}
	h.logger = opts.Logger
	if h.logger == nil {
		h.logger = slog.Default()
		if fmt.Sprintf("%T", h.logger.Handler()) == "*slog.defaultHandler" {
			// The stock default logs at Information and above whatever host.json says; azbind's
			// default is a text handler on stderr whose level follows host.json logging.logLevel
			// (set at build, once host.json is known). A program that set its own slog default
			// keeps it.
			h.defaultLevel = new(slog.LevelVar)
			h.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: h.defaultLevel}))
		}
	}
	h.clock = opts.Clock
	if h.clock == nil {
		h.clock = SystemClock
	}
	h.settings = opts.Settings
	h.cfg = opts.HostConfig
	if err := opts.DefaultHandler.err; err != nil {
		h.declErrs = append(h.declErrs, fmt.Errorf("HostOptions.DefaultHandler: %w: %w", err, ErrInvalidConfig))
	}
	return h, nil
}

// Func declares a function through the Go API. The bindings are checked exactly as function.json
// bindings are; problems are returned here and again by Run.
func (h *Host) Func(name string, handler Handler, bindings ...*BindingSpec) error {
	f := &FunctionSpec{Name: name, Where: "Go API: " + name}
	for i, b := range bindings {
		if b == nil {
			//lint:ignore ST1005 "Go API: <function>" names where the problem is, like "<file>: …"
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
		//lint:ignore ST1005 "Go API: <function>" names where the problem is, like "<file>: …"
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
			//lint:ignore ST1005 "Go API: <function>" names where the problem is, like "<file>: …"
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

// Handler returns the host's HTTP handler: its router (Services.Router), on which the admin
// endpoints, extension webhooks and HTTP-triggered functions are mounted, behind the drain,
// throttle, body-limit and body-rate guards (see HTTPOptions). Serve it with net/http, or let
// Run serve it (HTTPAddr) on a server with read, write, idle and header bounds.
func (h *Host) Handler() http.Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initServices()
	return h.guard
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
		// As `func start` does from the app folder: the environment, then ./local.settings.json
		// (a missing file is fine; a broken one stops the host with its problem).
		s, err := connection.NewDefaultSettings(LocalSettingsFile)
		if err != nil {
			h.declErrs = append(h.declErrs, fmt.Errorf("%w: %w", err, ErrInvalidConfig))
			if s, err = connection.NewDefaultSettings(""); err != nil {
				s = connection.NewSettings()
			}
		}
		h.settings = s
	}
	s := &Services{Logger: h.logger, Settings: h.settings, Clock: h.clock, Meter: h.opts.MeterProvider}
	if s.Meter == nil {
		s.Meter = noopmetric.NewMeterProvider()
	}
	s.Connections = h.opts.Connections
	if s.Connections == nil {
		s.Connections = connection.NewResolver(h.settings, nil)
	}
	s.Storage = h.opts.Storage
	if s.Storage == nil {
		s.Storage = NewMemoryStorage()
	}
	rt := &router{h: h}
	s.Router = keysRouter{rt}
	h.guard = &guard{h: h, next: rt}
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
