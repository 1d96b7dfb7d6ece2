package extension

// STUB: the user-facing host API; signatures fixed, implementation in progress (runtime.go).

import (
	"context"
	"log/slog"
	"time"

	"github.com/azbind/azbind/connection"
	"go.opentelemetry.io/otel/trace"
)

// Handler is a function's Go implementation; build one with Func, Action or Reflect.
type Handler struct {
	impl any
}

// Func adapts fn: T receives the trigger value — or, when T is a struct whose fields carry
// `azbind:"<binding name>"` tags, the trigger, inputs and collectors by name — and R goes to the
// `$return` output — or, when R is a struct with `azbind` tags, each field to the output of that name.
func Func[T, R any](fn func(context.Context, T) (R, error)) Handler { panic("not implemented") }

// Action is Func for handlers without outputs written through a return value.
func Action[T any](fn func(context.Context, T) error) Handler { panic("not implemented") }

// Reflect adapts any func(ctx context.Context, params...) (R, error) or (error): params after ctx
// take, in order, the trigger, the input bindings in declaration order, and *Collector[T] params
// for the output bindings not written by the return value.
func Reflect(fn any) Handler { panic("not implemented") }

// HostOptions configure a Host; the zero value works (environment settings, slog.Default()).
type HostOptions struct {
	Settings        *connection.Settings // default: environment + AppDir/local.settings.json
	Connections     ConnectionResolver   // default: connection.NewResolver(Settings, nil)
	Logger          *slog.Logger         // default: slog.Default()
	HostID          string               // default: AzureFunctionsWebHost__hostid, else derived
	Storage         HostStorage          // default: in-memory
	Mux             Mux                  // default: a new http.ServeMux (see Host.Handler)
	Clock           Clock                // default: SystemClock
	TracerProvider  trace.TracerProvider // default: otel's global provider
	HostConfig      *HostConfig          // default: AppDir/host.json, else empty
	ShutdownTimeout time.Duration        // drain deadline; default 30s
	Middleware      []Middleware         // first is outermost
	Concurrency     int                  // default GOMAXPROCS (1 when WEBSITE_SKU=Dynamic)
}

// Middleware wraps every invocation attempt; the first registered is the outermost.
type Middleware func(next InvokeFunc) InvokeFunc

// InvokeFunc runs (the rest of) one invocation attempt; FromContext(ctx) describes it.
type InvokeFunc func(ctx context.Context) error

// Host runs functions.
type Host struct{}

// NewHost creates a host.
func NewHost(opts HostOptions) (*Host, error) { panic("not implemented") }

// Func declares a function through the Go API.
func (h *Host) Func(name string, handler Handler, bindings ...*BindingSpec) error {
	panic("not implemented")
}

// Handle supplies the Go handler of a function declared in an app folder (LoadAppDir).
func (h *Host) Handle(name string, handler Handler) { panic("not implemented") }

// LoadAppDir declares every function of a Functions app folder (host.json, */function.json,
// local.settings.json); handlers are matched by function name (Handle).
func (h *Host) LoadAppDir(dir string) error { panic("not implemented") }

// Run builds every function, starts all triggers and blocks until ctx is cancelled; it then stops
// fetching, lets in-flight invocations finish within ShutdownTimeout, cancels the rest, and returns.
func (h *Host) Run(ctx context.Context) error { panic("not implemented") }
