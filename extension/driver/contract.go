package driver

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/azbind/azbind/connection"
)

// ---------------------------------------------------------------------------------------------
// Registration (database/sql style): a connector registers its binding types once, in init.
// ---------------------------------------------------------------------------------------------

// Extension is what a connector registers: a host.json section name and the binding types it
// implements. Register it from the connector package's init function.
type Extension struct {
	// Name is the host.json section under "extensions" (e.g. "queues", "blobs", "serviceBus").
	// Its content, with AzureFunctionsJobHost__extensions__<name>__… overrides applied, is handed
	// to every factory as BindContext.Config.
	Name string
	// Bindings lists the function.json types this extension implements.
	Bindings []BindingType
	// Check, when set, proves that a resolved connection for the extension's service works with
	// one cheap authenticated call, like database/sql's Pinger; `azbind connection resolve
	// --check` calls it. It must build its client exactly as the bindings do.
	Check func(ctx context.Context, c *connection.Connection) error
	// ConfigKeys lists the keys the extension reads from its host.json section; a key of a
	// nested object is written "parent.child" (a parent listed without children accepts any).
	// The loader warns about every other key of the section, with "did you mean", as one line
	// each. Nil: the runtime's list of the documented Functions keys for a section of this name
	// is used, or no check is made.
	ConfigKeys []string
}

// BindingType implements one function.json binding type. The runtime picks the factory from the
// binding's direction: a trigger type (name ending in "Trigger") has only NewTrigger; an "in"
// binding uses NewInput, an "out" binding NewOutput. A nil factory means the direction is not
// supported, which the loader reports as a clear error.
type BindingType struct {
	Type    string             // function.json "type", matched case-insensitively (e.g. "queueTrigger")
	Service connection.Service // service its `connection` resolves for ("" when it has none)

	NewTrigger func(ctx context.Context, bc *BindContext) (Trigger, error)
	NewInput   func(ctx context.Context, bc *BindContext) (Input, error)
	NewOutput  func(ctx context.Context, bc *BindContext) (Output, error)

	// Extras lists the types of the per-event values a trigger offers besides its payload, which
	// a handler takes by type rather than by binding name: settlement actions (Service Bus's
	// ServiceBusMessageActions), a partition context, a session. A handler parameter (after the
	// trigger and inputs, in any position) or an untagged exported field of a bindings struct
	// whose type is exactly one of these — or an interface type that it implements — receives
	// the Event.Extras value of that type, or the zero value when the event carries none. Such a
	// parameter never consumes a binding's position. Trigger types only.
	Extras []reflect.Type
}

// ---------------------------------------------------------------------------------------------
// Triggers.
// ---------------------------------------------------------------------------------------------

// Trigger starts invocations. Run delivers events to exec until ctx is cancelled — which means
// "stop fetching new work" — then waits until every event it dispatched has been settled
// (deleted, released, completed, checkpointed…) and returns. Run returns nil after an orderly
// stop; an error return means the trigger could not run at all (it is logged, and the host stops).
//
// Polling, pushed (HTTP), streaming and brokered triggers all fit: see the package documentation.
type Trigger interface {
	Run(ctx context.Context, exec Executor) error
}

// Executor runs one invocation of the function (binding inputs, calling the handler, flushing
// outputs, applying the function's retry policy) and reports the outcome. Execute is safe for
// concurrent use and never panics. Cancellation of ctx is ignored (only its values are kept): the
// runtime cancels invocations itself, at function timeout and after the drain deadline on
// shutdown, so a trigger may pass its Run context.
type Executor interface {
	Execute(ctx context.Context, ev *Event) Result
}

// Event is one trigger firing: a single item, or a batch for `cardinality: many`.
type Event struct {
	// Data is the payload of a single item. The runtime converts it to the handler's parameter
	// type: a value assignable to that type is passed as is (connector types such as a queue
	// message or an SDK client); []byte, string, json.RawMessage and io.Reader convert to string,
	// []byte, io.Reader, json.RawMessage or, by JSON decoding, to structs, maps and slices. An
	// `any` parameter gets a JSON payload decoded, other text as a string, other bytes as []byte.
	Data any
	// Payload is the item's content as the service delivered it (message text, event body), from
	// which the runtime alone derives the JSON-member binding data of expressions (checklist C19),
	// the same whatever type the handler takes. When nil, Data stands in if it is []byte, string
	// or json.RawMessage; a connector value in Data is never serialized for binding data.
	Payload []byte
	// Batch holds the items of a `cardinality: many` event (Data is then ignored); each element
	// converts as Data does, into the elements of the handler's slice parameter.
	Batch []any
	// Metadata is the trigger's binding data (checklist C27, C29, …): names such as DequeueCount
	// or BlobTrigger, looked up case-insensitively by binding expressions and FunctionContext.
	Metadata Metadata
	// ID identifies the item in logs (message id, blob name, sequence number). Optional.
	ID string
	// Reason says why the function runs, for the Executing log line, in Functions' words where
	// it has them ("New queue message detected on 'orders'."). Optional: the trigger type when empty.
	Reason string
	// Extras are this event's values for the trigger type's BindingType.Extras, at most one per
	// type (e.g. the *Actions that settle this event's messages). A trigger that lets the handler
	// settle must not settle again, after Execute, what the handler settled.
	Extras []any
}

// Metadata is trigger binding data. Lookup must be case-insensitive.
type Metadata interface {
	Lookup(name string) (any, bool)
}

// MapMetadata is Metadata backed by a map; lookups are case-insensitive (see LookupFold).
type MapMetadata map[string]any

// Lookup implements Metadata.
func (m MapMetadata) Lookup(name string) (any, bool) { return LookupFold(m, name) }

// LookupFold returns m's value for name, matched case-insensitively as binding data is: the
// exact key first, then the usual other spellings of name (Title case, as `ID` for Id; its first
// letter's case flipped, as `dequeueCount` for DequeueCount) as plain map lookups, and only then a
// scan of the map. The lookups allocate nothing.
func LookupFold[V any](m map[string]V, name string) (V, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	var zero V
	if len(m) == 0 || name == "" {
		return zero, false
	}
	if len(name) <= 64 {
		// Two spellings as plain lookups: Title case (`ID` → Id) and the first letter's case
		// flipped (`dequeueCount` → DequeueCount); Title case first when name has no lower-case
		// letter, as acronyms are spelt in PascalCase keys.
		var title, flip [64]byte
		t, f := title[:len(name)], flip[:len(name)]
		copy(f, name)
		f[0] = flipCase(f[0])
		t[0] = upper(name[0])
		caps := true
		for i := 1; i < len(name); i++ {
			c := name[i]
			caps = caps && !('a' <= c && c <= 'z')
			t[i] = lower(c)
		}
		first, second := t, f
		if !caps {
			first, second = f, t
		}
		if string(first) != name {
			if v, ok := m[string(first)]; ok {
				return v, true
			}
		}
		if string(second) != name && string(second) != string(first) {
			if v, ok := m[string(second)]; ok {
				return v, true
			}
		}
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return zero, false
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func flipCase(c byte) byte {
	if u := upper(c); u != c {
		return u
	}
	return lower(c)
}

// Status is the outcome of an invocation as a trigger must act on it.
type Status int

const (
	// Succeeded: acknowledge (delete, complete, checkpoint, write the receipt).
	Succeeded Status = iota
	// Failed: the handler (or a binding) failed after any retries; release, count towards
	// poison, abandon or dead-letter as the service does.
	Failed
	// Cancelled: the host shut down before the invocation finished. Do not acknowledge; let the
	// item come back (at-least-once).
	Cancelled
)

func (s Status) String() string {
	switch s {
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	}
	return "unknown"
}

// Result is what an invocation reports back to its trigger.
type Result struct {
	Status Status
	Err    error // nil exactly when Status is Succeeded
	// Reply is what the invocation answered, for request/response triggers (the HTTP trigger):
	// the value an output binding or a dynamic handler set with FunctionContext.SetReply during
	// the successful attempt (an HTTPReply for HTTP), nil when nothing set one or the invocation
	// did not succeed. Other triggers ignore it.
	Reply any
}

// ---------------------------------------------------------------------------------------------
// Input and output bindings.
// ---------------------------------------------------------------------------------------------

// Input produces the value of an input binding for one invocation. The returned value converts
// to the handler's parameter type as Event.Data does; nil means "absent" and gives the zero value
// (a missing blob or entity is not an error). A returned io.Closer is closed after the
// invocation. Errors fail the invocation.
type Input interface {
	Bind(ctx context.Context, fc *FunctionContext) (any, error)
}

// Output opens a Sink for one invocation. Open is called lazily, the first time the invocation
// writes to the binding.
type Output interface {
	Open(ctx context.Context, fc *FunctionContext) (Sink, error)
}

// Sink receives the items of one output binding during one invocation (IAsyncCollector). Add is
// given the handler's Go value as is (string, []byte, io.Reader, a struct, a map, …; see Encode);
// Flush is called once, after the handler returned successfully, and only then may the items
// become visible. A failed invocation's sink is discarded without Flush.
//
// Serialisation: the runtime calls Open, Add and Flush of one invocation's sink one at a time
// (a Collector used from several goroutines is serialised before Add), so a Sink needs no lock
// of its own; different invocations' sinks run concurrently, so state shared between them (a
// Shared client) must be safe for concurrent use.
type Sink interface {
	Add(ctx context.Context, item any) error
	Flush(ctx context.Context) error
}

// ---------------------------------------------------------------------------------------------
// What a factory is given.
// ---------------------------------------------------------------------------------------------

// BindContext is what a binding factory receives at load time.
type BindContext struct {
	Function string       // function name
	Spec     *BindingSpec // the binding as declared; string properties have %setting% resolved
	Host     *Services    // host services
	// Param is the Go type this binding exchanges with the handler: the trigger or input
	// parameter type, the element type of a Collector, or the type written to an output (nil when
	// unknown, e.g. an output fed from `any`). For `cardinality: many` it is the slice's element type.
	Param reflect.Type
	// Config is the host.json extensions section of the binding's extension (nil if absent).
	Config map[string]any
	// TriggerData names the trigger's binding data when this is an input or output binding (nil for
	// the trigger itself, or when the trigger does not declare a contract); see BindingDataContract.
	TriggerData []string
	// TriggerType is the function's trigger type (e.g. "queueTrigger").
	TriggerType string
	// Extension is the name of the extension the binding type belongs to (its host.json section,
	// e.g. "queues"); Section keys its decode-once options by it.
	Extension string
}

// BindingDataContract is implemented by triggers that know the names of their binding data at
// load time (checklist: BindingDataContract). Templates in other bindings of the function are then
// checked at load time: a `{name}` that the contract does not provide is an error, unless the
// contract lists "*" (payload properties are known only at invocation).
type BindingDataContract interface {
	BindingData() []string
}

// Services are the host services every connector may use.
//
// Inside the runtime (every factory, Run, Bind, Open, Add and Flush call) the host, its Logger,
// Clock, Meter, Settings, Connections, Storage and Router are never nil: a connector does not check
// them and never falls back to slog.Default(), the global MeterProvider or time.Now(). A unit
// test that calls a factory outside the runtime builds its Services with extension.NewHost's
// Host.Services() or fills every field.
type Services struct {
	Logger      *slog.Logger
	HostID      string // ≤32 lowercase characters, stable per app (checklist C59)
	Settings    *connection.Settings
	Connections ConnectionResolver
	Storage     HostStorage // host storage: receipts, locks, checkpoints
	// Router is the host's HTTP router: pushed triggers and the HTTP trigger mount their routes
	// on it (see Router). Never nil inside the runtime.
	Router Router
	Clock  Clock
	// Concurrency is the number of processors the host plans for (runtime.GOMAXPROCS unless set;
	// 1 when WEBSITE_SKU=Dynamic, as Functions does).
	Concurrency int
	// Meter is where connectors record their own metrics (dead letters, backlog, …): the host's
	// HostOptions.MeterProvider, or a no-op one when the host records no metrics. Never nil
	// inside the runtime.
	Meter metric.MeterProvider
	// StorageVolatile is true when Storage is in memory because no AzureWebJobsStorage is
	// configured (not by the host's explicit choice): see DurableStorage.
	StorageVolatile bool

	res sharedSet // values opened through Shared
}

// DurableStorage returns the host storage for a binding that keeps state which must survive a
// restart (receipts, checkpoints, leases). When the host fell back to memory because
// AzureWebJobsStorage is not configured, it returns a *ConfigError naming the setting: state kept
// in memory would be lost without a word at the next restart. use says what needs it.
func (s *Services) DurableStorage(use string) (HostStorage, error) {
	if s.StorageVolatile || s.Storage == nil {
		return nil, &ConfigError{Where: "setting AzureWebJobsStorage", Problem: use + " needs durable host storage, and the host has only memory storage",
			Fix: "define AzureWebJobsStorage (a storage connection string, or AzureWebJobsStorage__accountName with an identity), or give HostOptions.Storage (extension.NewMemoryStorage() for tests)"}
	}
	return s.Storage, nil
}

// ConnectionResolver resolves a binding's connection name for a service (the connection package's
// *Resolver implements it). An empty name means the service's default connection.
type ConnectionResolver interface {
	Resolve(ctx context.Context, name string, svc connection.Service) (*connection.Connection, error)
}

// Clock abstracts time for tests.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

// HostStorage is the host's small blob store (AzureWebJobsStorage's `azure-webjobs-hosts`
// container in production) with optimistic concurrency. Keys are blob names such as
// "blobreceipts/<hostId>/<functionId>/<etag>/<container>/<blob>".
type HostStorage interface {
	// Get returns ErrNotFound (wrapped) when the key does not exist.
	Get(ctx context.Context, key string) (Record, error)
	// Put writes a record. With Cond.IfNoneMatch it fails with ErrConflict when the key exists;
	// with Cond.IfMatch it fails with ErrConflict when the current ETag differs. Returns the new ETag.
	Put(ctx context.Context, key string, rec Record, cond Cond) (etag string, err error)
	// Delete removes the key (ErrNotFound if absent; ErrConflict if Cond.IfMatch does not match).
	Delete(ctx context.Context, key string, cond Cond) error
	// List returns the keys with the given prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
}

// Record is a HostStorage value.
type Record struct {
	Data     []byte
	Metadata map[string]string
	ETag     string
}

// Cond is a HostStorage write condition.
type Cond struct {
	IfMatch     string // write only when the current ETag equals this
	IfNoneMatch bool   // write only when the key does not exist
}

// Error kinds shared by the runtime and connectors; test with errors.Is.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrUnsupportedType = errors.New("unsupported parameter type")
	ErrInvalidConfig   = errors.New("invalid configuration")
	ErrFunctionTimeout = errors.New("function timeout")
	ErrShutdown        = errors.New("host shutting down")
	// ErrPermanent marks a trigger's error that retrying cannot clear (a container name the
	// service rejects, an entity that does not exist and may not be created): the trigger stops
	// that function's listener with it instead of retrying for ever, and the host logs it at ERROR.
	ErrPermanent = errors.New("permanent error")
)
