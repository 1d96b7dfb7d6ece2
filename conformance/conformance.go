// Package conformance is the suite every azbind connector — ours or a third party's — runs to show
// that it honours the extension contract: delivery, acknowledgement, failure and redelivery,
// retry policies, poison, metadata, output round trips, graceful drain, cancellation at the drain
// deadline, panic recovery, competing consumers and the lifecycle (hosts started and stopped
// leave no goroutine and no shared value: Lifecycle, see GoroutineIgnorer for a service SDK's
// own goroutines; do not run Run in parallel with other tests, goleak sees the whole process);
// and, where the service has them, settlement
// chosen by the handler, batches, ordering per key, resuming from checkpoints after a restart,
// and pushed (HTTP) delivery.
//
// A connector implements Harness (and TriggerHarness and/or OutputHarness) in its own _test.go
// file, against a real service or local emulator, and calls Run:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) conformance.Harness { return newHarness(t) })
//	}
//
// Capabilities gate the tests that only some services support; each capability names the
// optional interfaces its harness or sources implement (the hooks). The suite never skips because
// an emulator is missing: a harness that cannot reach its service must fail the test.
//
//	Capability          Hooks                                     Example connectors
//	Redelivery          —                                         queue, Service Bus
//	HandlerSettlement   SettlementHarness, SettlementSource       Service Bus
//	Batch               (BatchSender for pushed batches,          Service Bus, Event Hubs, Cosmos DB, Event Grid
//	                    BatchTriggerSource for a batch binding)
//	OrderedPerKey       KeyedSource                               Event Hubs (partitions), Service Bus (sessions),
//	                                                              Cosmos DB (feed ranges)
//	Checkpoints         (StorageHarness, or AzureWebJobsStorage)  Event Hubs, Cosmos DB
//	Push                PushSource                                Event Grid
//
// A trigger that does not hand the handler the bytes its source sent — it wraps them in a
// document, an envelope, a one-item array — is tested all the same: its harness (or source)
// implements PayloadMapper, and the suite maps every payload a handler receives, single items and
// each item of a batch, before comparing it with what was sent (Cosmos DB: the payload is a
// property of a document the change feed delivers with its system properties).
//
// Every host a test starts shares one host storage: the harness's (StorageHarness), else the
// account of the AzureWebJobsStorage setting, else one in-memory storage per test. A host
// restarted within a test therefore finds the state its predecessor left.
package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
)

// Harness connects the suite to one connector and its service.
type Harness interface {
	// Settings are the app settings the host needs (connection strings, identity properties).
	Settings() map[string]string
	// Capabilities says what the connector supports.
	Capabilities() Capabilities
}

// TriggerHarness is implemented by harnesses of connectors with a trigger.
type TriggerHarness interface {
	Harness
	// NewSource creates a fresh, empty source (queue, container, subscription…) for one test.
	NewSource(ctx context.Context, t *testing.T) Source
}

// OutputHarness is implemented by harnesses of connectors with an output binding.
type OutputHarness interface {
	Harness
	// NewDestination creates a fresh destination for one test.
	NewDestination(ctx context.Context, t *testing.T) Destination
}

// Source is one trigger source.
type Source interface {
	// Trigger returns the trigger binding for this source, with name as the binding name.
	Trigger(name string) *driver.BindingSpec
	// Send makes one item with this payload available to the trigger.
	Send(ctx context.Context, payload []byte) error
	// Pending counts items neither acknowledged nor poisoned (visible or not).
	Pending(ctx context.Context) (int, error)
	// Poisoned returns the payloads moved to the poison/dead-letter destination, byte for byte.
	// Only called when Capabilities.PoisonAfter > 0.
	Poisoned(ctx context.Context) ([][]byte, error)
}

// Destination is one output destination.
type Destination interface {
	// Output returns the output binding for this destination, with name as the binding name.
	Output(name string) *driver.BindingSpec
	// Received returns every payload written so far, in any order.
	Received(ctx context.Context) ([][]byte, error)
}

// ItemMaker is implemented by destinations whose output takes structured values (table entities,
// documents…) rather than raw bytes. The output tests write value for item i and expect Received
// to report received for it. Without it, the payload bytes are written and expected back.
type ItemMaker interface {
	Item(i int, payload []byte) (value any, received []byte)
}

// Capabilities gate the suite's tests.
type Capabilities struct {
	// Redelivery: a failed or cancelled item is delivered again.
	Redelivery bool
	// PoisonAfter: after this many failed deliveries the item is moved to poison (0: no poison).
	PoisonAfter int
	// CompetingConsumers: several hosts on one source share the items, each processed once.
	CompetingConsumers bool
	// Metadata lists binding-data names every event must carry (checked case-insensitively).
	Metadata []string
	// HostConfig is host.json's "extensions" content to use in tests (e.g. fast polling, a short
	// visibility timeout). It must make PoisonAfter hold.
	HostConfig map[string]map[string]any
	// SingleValueOutput: the output binding takes one value per invocation (a blob), so the
	// many-items Collector test does not apply.
	SingleValueOutput bool
	// Timeout bounds each wait of the suite (default 60 s).
	Timeout time.Duration

	// HandlerSettlement: a handler can settle its item itself — complete, abandon, dead-letter
	// with a reason, defer — through a value its trigger offers by type (driver.BindingType.Extras),
	// and the trigger then settles nothing the handler settled. The harness implements
	// SettlementHarness and its sources SettlementSource.
	HandlerSettlement bool
	// Batch: with `cardinality: many` one invocation receives several items (a slice), each
	// delivered exactly once; a failed batch comes back whole when Redelivery is declared. Sources
	// of pushed triggers implement BatchSender.
	Batch bool
	// MaxBatchSize, when > 0, is the most items one invocation may receive under HostConfig.
	MaxBatchSize int
	// OrderedPerKey: the items sent with one key (partition key, session id) are handled one at a
	// time, in the order sent, while different keys may run in parallel. Sources implement KeyedSource.
	OrderedPerKey bool
	// Checkpoints: the trigger records its progress in host storage (or in a store of the
	// service's that outlives the host, such as Cosmos DB's lease container), so that a host
	// restarted on the same storage resumes where the last one stopped: nothing lost, and nothing
	// delivered again but the batch that was in flight (cancelled) at shutdown. Pending counts the
	// items beyond the checkpoints.
	Checkpoints bool
	// Push: the service pushes items to the host over HTTP (Host.Handler): 2xx when the invocation
	// succeeded, 5xx when it failed, 503 once the host has begun to drain. Sources implement PushSource.
	Push bool
}

// Settlement is how a handler settles its item (Capabilities.HandlerSettlement).
type Settlement int

const (
	// AutoSettle: the handler settles nothing; the trigger acts on the outcome (complete on
	// success, abandon on failure).
	AutoSettle Settlement = iota
	Complete              // remove the item for good
	Abandon               // release it for redelivery now
	DeadLetter            // move it to the dead-letter queue, with a reason
	Defer                 // set it aside; the trigger never delivers it again
)

// Decision is what the suite's settlement tests ask a handler to do with one item.
type Decision struct {
	Settle Settlement
	Reason string // dead-letter reason
	Err    error  // returned by the handler after settling
}

// SettlementHarness is implemented by harnesses declaring HandlerSettlement.
type SettlementHarness interface {
	TriggerHarness
	// SettlingHandler returns a handler that takes the item's payload ([]byte) and the
	// connector's settlement value (a parameter of a type in its trigger's BindingType.Extras),
	// calls decide with the payload, settles the item as decided through that value, and then
	// returns Decision.Err (or the settlement's own error).
	SettlingHandler(decide func(ctx context.Context, payload []byte) Decision) extension.Handler
}

// SettlementSource is implemented by sources of harnesses declaring HandlerSettlement. Pending
// counts neither dead-lettered nor deferred items.
type SettlementSource interface {
	Source
	// DeadLettered returns the dead-lettered items with their reasons.
	DeadLettered(ctx context.Context) ([]DeadLettered, error)
	// Deferred returns the payloads of the deferred items.
	Deferred(ctx context.Context) ([][]byte, error)
}

// DeadLettered is one dead-lettered item.
type DeadLettered struct {
	Payload []byte
	Reason  string
}

// KeyedSource is implemented by sources of harnesses declaring OrderedPerKey.
type KeyedSource interface {
	Source
	// SendKeyed sends one item with a partition key or session id.
	SendKeyed(ctx context.Context, key string, payload []byte) error
}

// BatchSender is implemented by sources that deliver a batch as one unit (a pushed JSON array);
// the batch test then starts the host first and sends the items with one call. Other sources'
// items are sent one by one before the host starts, so that they are there to be batched.
type BatchSender interface {
	SendBatch(ctx context.Context, payloads [][]byte) error
}

// PushSource is implemented by sources of harnesses declaring Push. The suite serves every host
// it starts on Host.Handler with net/http.
type PushSource interface {
	Source
	// Endpoint tells the source where the host serves its HTTP handler and which function its
	// trigger belongs to; the suite calls it whenever a host starts (again after a restart). Send
	// then delivers there as the service would: in the background, until answered with a 2xx,
	// counting only answers from a failed invocation (5xx other than 503) towards PoisonAfter.
	Endpoint(baseURL, function string)
	// Request builds the HTTP request the service sends to push payload to function.
	Request(ctx context.Context, baseURL, function string, payload []byte) (*http.Request, error)
}

// PayloadMapper is implemented by a TriggerHarness, or by a Source, whose trigger delivers the
// payloads sent through Source.Send wrapped (a document with system properties, an envelope):
// Payload returns the bytes that were sent, given what one handler received — a single item
// (`cardinality: one`) or one element of a batch (`cardinality: many`). The suite applies it to
// every payload its handlers receive before comparing it or recording it; an error fails the
// test. A source's mapper applies to the test that created the source, else the harness's.
// Source.Poisoned (and SettlementSource's lists) must still return the payloads as sent.
type PayloadMapper interface {
	Payload(delivered []byte) ([]byte, error)
}

// BatchTriggerSource is implemented by sources whose trigger binding for `cardinality: many`
// differs in more than the cardinality from the one Trigger returns (e.g. single items need a
// batch size of 1, batches a larger one). The batch tests then use TriggerMany's spec as it is;
// without it they set Cardinality "many" on Trigger's.
type BatchTriggerSource interface {
	TriggerMany(name string) *driver.BindingSpec
}

// manyTrigger returns src's trigger binding with `cardinality: many`.
func manyTrigger(src Source, name string) *driver.BindingSpec {
	if bs, ok := src.(BatchTriggerSource); ok {
		return bs.TriggerMany(name)
	}
	s := src.Trigger(name)
	s.Cardinality = "many"
	return s
}

// StorageHarness is implemented by harnesses whose sources read host storage themselves (to
// count the items beyond the checkpoints): every host of a test uses the storage it returns.
// newHarness is called once per test, so one harness value may hold one test's storage.
type StorageHarness interface {
	HostStorage() driver.HostStorage
}

// Run runs the suite. newHarness is called once per test.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	probe := newHarness(t)
	_, isTrig := probe.(TriggerHarness)
	// (the in-memory connector is linked in: output-only harnesses are driven by its trigger)
	_, isOut := probe.(OutputHarness)
	if !isTrig && !isOut {
		t.Fatalf("conformance: harness %T implements neither TriggerHarness nor OutputHarness", probe)
	}
	if isTrig {
		for _, tc := range triggerTests {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t).(TriggerHarness)
				if tc.need != "" && !h.Capabilities().has(tc.need) {
					t.Skipf("connector does not declare %s", tc.need)
				}
				tc.run(t, newEnv(t, h))
			})
		}
	}
	if isTrig && isOut {
		t.Run("OutputRoundTrip", func(t *testing.T) { testOutputRoundTrip(t, newEnv(t, newHarness(t).(TriggerHarness))) })
	}
	if isOut && !isTrig {
		t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newEnv(t, memSourceHarness{newHarness(t).(OutputHarness)})) })
	}
	if isOut {
		for _, tc := range outputTests {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t).(OutputHarness)
				if tc.many && h.Capabilities().SingleValueOutput {
					t.Skip("connector declares SingleValueOutput")
				}
				tc.run(t, newEnv(t, memSourceHarness{h}), h)
			})
		}
	}
}

type env struct {
	t       *testing.T
	h       TriggerHarness
	caps    Capabilities
	ctx     context.Context
	wait    time.Duration
	storage driver.HostStorage // shared by every host of the test (nil: the host's default)
	pushes  []PushSource       // sources to point at each host started
	mapper  PayloadMapper      // maps delivered payloads back to the sent ones (nil: identity)
}

func newEnv(t *testing.T, h TriggerHarness) *env {
	caps := h.Capabilities()
	wait := caps.Timeout
	if wait <= 0 {
		wait = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*wait)
	t.Cleanup(cancel)
	e := &env{t: t, h: h, caps: caps, ctx: ctx, wait: wait}
	if m, ok := h.(PayloadMapper); ok {
		e.mapper = m
	}
	if sh, ok := h.(StorageHarness); ok {
		e.storage = sh.HostStorage()
	} else if _, ok := h.Settings()["AzureWebJobsStorage"]; !ok {
		e.storage = extension.NewMemoryStorage()
	}
	return e
}

// newSource creates a fresh source for the test.
func (e *env) newSource() Source {
	src := e.h.NewSource(e.ctx, e.t)
	if ps, ok := src.(PushSource); ok {
		e.pushes = append(e.pushes, ps)
	}
	if m, ok := src.(PayloadMapper); ok {
		e.mapper = m
	}
	return src
}

// sent maps a payload a handler received to the one its source sent (PayloadMapper). A payload
// that cannot be mapped fails the test and is returned as received.
func (e *env) sent(delivered []byte) []byte {
	if e.mapper == nil {
		return delivered
	}
	p, err := e.mapper.Payload(delivered)
	if err != nil {
		e.t.Errorf("conformance: PayloadMapper: %q: %v", delivered, err)
		return delivered
	}
	return p
}

// sentAll maps each item of a batch (PayloadMapper).
func (e *env) sentAll(items [][]byte) [][]byte {
	if e.mapper == nil {
		return items
	}
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = e.sent(it)
	}
	return out
}

// host is a running extension.Host.
type host struct {
	h    *extension.Host
	stop context.CancelFunc
	done chan error
	url  string // where the host's HTTP handler is served (Push)
}

func (e *env) hostOptions(mut ...func(*extension.HostOptions)) extension.HostOptions {
	settings := connection.NewSettings(connection.FromMap("conformance", e.h.Settings()))
	opts := extension.HostOptions{
		Settings:        settings,
		Logger:          slog.New(slog.DiscardHandler),
		HostConfig:      &extension.HostConfig{Version: "2.0", Extensions: e.caps.HostConfig},
		ShutdownTimeout: e.wait,
		HostID:          "conformance",
		Storage:         e.storage,
	}
	for _, m := range mut {
		m(&opts)
	}
	return opts
}

// start declares one function and runs the host in the background until the test ends. For
// pushed triggers it serves the host's HTTP handler and points the test's sources at it.
func (e *env) start(name string, handler extension.Handler, opts extension.HostOptions, bindings ...*driver.BindingSpec) *host {
	e.t.Helper()
	h, err := extension.NewHost(opts)
	if err != nil {
		e.t.Fatalf("NewHost: %v", err)
	}
	if err := h.Func(name, handler, bindings...); err != nil {
		e.t.Fatalf("Func: %v", err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	hh := &host{h: h, stop: cancel, done: make(chan error, 1)}
	if e.caps.Push {
		srv := httptest.NewServer(h.Handler())
		e.t.Cleanup(srv.Close) // (after the host has stopped: cleanups run last first)
		hh.url = srv.URL
		for _, ps := range e.pushes {
			ps.Endpoint(srv.URL, name)
		}
	}
	go func() { hh.done <- h.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-hh.done:
		case <-time.After(2 * e.wait):
			e.t.Errorf("host did not stop within %v", 2*e.wait)
		}
	})
	return hh
}

// shutdown stops the host and returns Run's error.
func (e *env) shutdown(hh *host) error {
	hh.stop()
	select {
	case err := <-hh.done:
		hh.done <- err
		return err
	case <-time.After(2 * e.wait):
		e.t.Fatalf("host did not stop within %v", 2*e.wait)
		return nil
	}
}

// eventually polls cond until it holds or the wait elapses.
func (e *env) eventually(what string, cond func() (bool, error)) {
	e.t.Helper()
	deadline := time.Now().Add(e.wait)
	delay := 5 * time.Millisecond
	for {
		ok, err := cond()
		if err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", e.wait, what)
		}
		time.Sleep(delay)
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func (e *env) pendingIs(src Source, n int) func() (bool, error) {
	return func() (bool, error) {
		p, err := src.Pending(e.ctx)
		return p == n, err
	}
}

// recorder collects deliveries.
type recorder struct {
	mu    sync.Mutex
	calls [][]byte
	meta  []driver.Metadata
}

func (r *recorder) add(b []byte, m driver.Metadata) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, append([]byte(nil), b...))
	r.meta = append(r.meta, m)
	return len(r.calls)
}

func (r *recorder) count(b []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if bytes.Equal(c, b) {
			n++
		}
	}
	return n
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

type triggerTest struct {
	name string
	need string // the Capabilities field the test needs (a bool set, or an int above 0); "" for none
	run  func(t *testing.T, e *env)
}

var triggerTests = []triggerTest{
	{name: "Delivery", run: testDelivery},
	{name: "Metadata", run: testMetadata},
	{name: "FailureRedelivery", need: "Redelivery", run: testFailureRedelivery},
	{name: "RetryPolicy", run: testRetryPolicy},
	{name: "PanicRecovery", need: "Redelivery", run: testPanicRecovery},
	{name: "Poison", need: "PoisonAfter", run: testPoison},
	{name: "MiddlewareOrder", run: testMiddlewareOrder},
	{name: "FunctionTimeout", need: "Redelivery", run: testFunctionTimeout},
	{name: "GracefulDrain", run: testGracefulDrain},
	{name: "ShutdownDuringRetryWait", run: testShutdownDuringRetryWait},
	{name: "CancelAtDrainDeadline", need: "Redelivery", run: testCancelAtDeadline},
	{name: "CompetingConsumers", need: "CompetingConsumers", run: testCompetingConsumers},
	{name: "HandlerSettlement", need: "HandlerSettlement", run: testHandlerSettlement},
	{name: "Batch", need: "Batch", run: testBatch},
	{name: "OrderedPerKey", need: "OrderedPerKey", run: testOrderedPerKey},
	{name: "CheckpointResume", need: "Checkpoints", run: testCheckpointResume},
	{name: "Push", need: "Push", run: testPush},
	{name: "Lifecycle", run: testLifecycle},
}

// has reports whether c declares the capability named by its field: a bool field that is set, or
// an int field above 0. An unknown name panics (a typo in the suite, not the connector's fault).
func (c Capabilities) has(name string) bool {
	f := reflect.ValueOf(c).FieldByName(name)
	switch f.Kind() {
	case reflect.Bool:
		return f.Bool()
	case reflect.Int:
		return f.Int() > 0
	}
	panic("conformance: no capability " + name)
}

func payload(t *testing.T, i int) []byte {
	return fmt.Appendf(nil, `{"test":%q,"n":%d,"bin":"\u00e9\u0000"}`, t.Name(), i)
}

// Delivery: every item reaches the handler byte for byte and is acknowledged.
func testDelivery(t *testing.T, e *env) {
	src := e.newSource()
	var rec recorder
	e.start("delivery", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		rec.add(b, nil)
		return nil
	}), e.hostOptions(), src.Trigger("item"))
	e.sendAndExpectExactlyOnce(t, src, &rec, 5)
}

// sendAndExpectExactlyOnce sends n payloads, waits until all are delivered and acknowledged, and
// checks that each reached a handler exactly once, byte for byte.
func (e *env) sendAndExpectExactlyOnce(t *testing.T, src Source, rec *recorder, n int) {
	t.Helper()
	for i := range n {
		if err := src.Send(e.ctx, payload(t, i)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	e.eventually("all items delivered and acknowledged", func() (bool, error) {
		p, err := src.Pending(e.ctx)
		return rec.len() >= n && p == 0, err
	})
	var wrong []string
	for i := range n {
		if c := rec.count(payload(t, i)); c != 1 {
			wrong = append(wrong, fmt.Sprintf("item %d ×%d", i, c))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("items not delivered exactly once: %s", strings.Join(wrong, ", "))
	}
}

// Metadata: declared binding-data names are present on every event.
func testMetadata(t *testing.T, e *env) {
	src := e.newSource()
	var rec recorder
	var fcOK atomic.Bool
	e.start("metadata", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		fc := extension.FromContext(ctx)
		if fc != nil && fc.FunctionName == "metadata" && fc.InvocationID() != "" && fc.TriggerType != "" {
			fcOK.Store(true)
		}
		rec.add(b, fc.Metadata)
		return nil
	}), e.hostOptions(), src.Trigger("item"))
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	e.eventually("delivery", func() (bool, error) { return rec.len() >= 1, nil })
	if !fcOK.Load() {
		t.Error("FunctionContext from ctx lacks FunctionName, InvocationID or TriggerType")
	}
	rec.mu.Lock()
	m := rec.meta[0]
	rec.mu.Unlock()
	for _, name := range e.caps.Metadata {
		for _, variant := range []string{name, lowerASCII(name)} {
			if _, ok := m.Lookup(variant); !ok {
				t.Errorf("metadata %q missing (looked up as %q)", name, variant)
			}
		}
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

var errInjected = errors.New("conformance: injected failure")

// FailureRedelivery: a failed item is not acknowledged and is delivered again.
func testFailureRedelivery(t *testing.T, e *env) {
	failOnceThenSucceed(t, e, "redelivery after failure, then acknowledgement", func() error { return errInjected })
}

// failOnceThenSucceed sends one item whose first invocation ends with fail() and checks that it
// is delivered again and then acknowledged.
func failOnceThenSucceed(t *testing.T, e *env, what string, fail func() error) {
	src := e.newSource()
	var rec recorder
	e.start("failonce", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		if rec.add(b, nil) == 1 {
			return fail()
		}
		return nil
	}), e.hostOptions(), src.Trigger("item"))
	p := payload(t, 0)
	if err := src.Send(e.ctx, p); err != nil {
		t.Fatal(err)
	}
	e.eventually(what, func() (bool, error) {
		n, err := src.Pending(e.ctx)
		return rec.count(p) >= 2 && n == 0, err
	})
}

// RetryPolicy: the function's retry policy reruns a failing invocation within one delivery, with
// the retry context visible to the handler (C57).
func testRetryPolicy(t *testing.T, e *env) {
	src := e.newSource()
	var mu sync.Mutex
	var seen []int
	e.start("retry", extension.Action(func(ctx context.Context, b []byte) error {
		fc := extension.FromContext(ctx)
		mu.Lock()
		seen = append(seen, fc.Retry.RetryCount)
		mu.Unlock()
		if fc.Retry.RetryCount < 2 {
			return errInjected
		}
		if fc.Retry.LastErr == nil || !errors.Is(fc.Retry.LastErr, errInjected) {
			return fmt.Errorf("RetryContext.LastErr = %v, want the previous attempt's error", fc.Retry.LastErr)
		}
		return nil
	}), e.hostOptions(func(o *extension.HostOptions) {
		o.HostConfig.Retry = &extension.RetryPolicy{Strategy: extension.FixedDelay, MaxRetryCount: 3, DelayInterval: 10 * time.Millisecond}
	}), src.Trigger("item"))
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	e.eventually("acknowledged after retries", e.pendingIs(src, 0))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 3 || !slices.Equal(seen[:3], []int{0, 1, 2}) {
		t.Errorf("retry counts seen = %v, want to start with [0 1 2]", seen)
	}
}

// PanicRecovery: a panicking handler fails the invocation; the host keeps running.
func testPanicRecovery(t *testing.T, e *env) {
	failOnceThenSucceed(t, e, "redelivery after a panic, then acknowledgement", func() error { panic("conformance: injected panic") })
}

// Poison: an item that always fails is invoked PoisonAfter times and then moved to poison with
// identical bytes.
func testPoison(t *testing.T, e *env) {
	src := e.newSource()
	var rec recorder
	e.start("poison", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		rec.add(b, nil)
		return errInjected
	}), e.hostOptions(), src.Trigger("item"))
	p := payload(t, 0)
	if err := src.Send(e.ctx, p); err != nil {
		t.Fatal(err)
	}
	e.eventually("item poisoned", func() (bool, error) {
		got, err := src.Poisoned(e.ctx)
		return len(got) > 0, err
	})
	got, _ := src.Poisoned(e.ctx)
	if len(got) != 1 || !bytes.Equal(got[0], p) {
		t.Errorf("poisoned = %q, want exactly [%q]", got, p)
	}
	if c := rec.count(p); c != e.caps.PoisonAfter {
		t.Errorf("handler invoked %d times before poison, want %d", c, e.caps.PoisonAfter)
	}
	e.eventually("source empty", e.pendingIs(src, 0))
}

// MiddlewareOrder: the first registered middleware is the outermost.
func testMiddlewareOrder(t *testing.T, e *env) {
	src := e.newSource()
	var mu sync.Mutex
	var order []string
	mw := func(name string) extension.Middleware {
		return func(next extension.InvokeFunc) extension.InvokeFunc {
			return func(ctx context.Context) error {
				mu.Lock()
				order = append(order, name+">")
				mu.Unlock()
				err := next(ctx)
				mu.Lock()
				order = append(order, "<"+name)
				mu.Unlock()
				return err
			}
		}
	}
	done := make(chan struct{}, 1)
	e.start("middleware", extension.Action(func(ctx context.Context, b []byte) error {
		mu.Lock()
		order = append(order, "handler")
		mu.Unlock()
		return nil
	}), e.hostOptions(func(o *extension.HostOptions) {
		// The signal is the outermost middleware: it fires once a and b have both unwound.
		o.Middleware = []extension.Middleware{func(next extension.InvokeFunc) extension.InvokeFunc {
			return func(ctx context.Context) error {
				err := next(ctx)
				select {
				case done <- struct{}{}:
				default:
				}
				return err
			}
		}, mw("a"), mw("b")}
	}), src.Trigger("item"))
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(e.wait):
		t.Fatal("no invocation")
	}
	mu.Lock()
	got := append([]string(nil), order[:min(5, len(order))]...)
	mu.Unlock()
	want := []string{"a>", "b>", "handler", "<b", "<a"}
	if !slices.Equal(got, want) {
		t.Errorf("middleware order = %v, want %v", got, want)
	}
}

// FunctionTimeout: a handler past functionTimeout sees its ctx cancelled with a deadline error,
// the invocation fails, and the item comes back.
func testFunctionTimeout(t *testing.T, e *env) {
	src := e.newSource()
	var rec recorder
	var sawDeadline atomic.Bool
	e.start("timeout", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		if rec.add(b, nil) == 1 {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline on ctx")
			}
			<-ctx.Done()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				sawDeadline.Store(true)
			}
			return ctx.Err()
		}
		return nil
	}), e.hostOptions(func(o *extension.HostOptions) {
		o.HostConfig.FunctionTimeout = 300 * time.Millisecond
	}), src.Trigger("item"))
	p := payload(t, 0)
	if err := src.Send(e.ctx, p); err != nil {
		t.Fatal(err)
	}
	e.eventually("redelivery after the timeout, then acknowledgement", func() (bool, error) {
		n, err := src.Pending(e.ctx)
		return rec.count(p) >= 2 && n == 0, err
	})
	if !sawDeadline.Load() {
		t.Error("the timed-out handler's ctx.Err() is not context.DeadlineExceeded")
	}
}

// GracefulDrain: on shutdown the trigger stops fetching, the running invocation completes and is
// acknowledged, and items sent after the stop stay in the source.
func testGracefulDrain(t *testing.T, e *env) {
	src := e.newSource()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var completed atomic.Int32
	var rec recorder
	hh := e.start("drain", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		rec.add(b, nil)
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		completed.Add(1)
		return nil
	}), e.hostOptions(), src.Trigger("item"))
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(e.wait):
		t.Fatal("handler did not start")
	}
	errc := make(chan error, 1)
	go func() { errc <- e.shutdown(hh) }()
	// The host must wait for the in-flight invocation, and the trigger must not fetch what arrives
	// once the host has told it to stop.
	select {
	case <-hh.h.Draining():
	case <-time.After(e.wait):
		t.Fatal("host did not begin to stop")
	}
	if err := src.Send(e.ctx, payload(t, 2)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		t.Fatalf("Run returned (%v) while an invocation was still running", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-errc; err != nil {
		t.Errorf("Run: %v", err)
	}
	if c := rec.count(payload(t, 2)); c != 0 {
		t.Errorf("an item sent during the drain was fetched and delivered %d time(s)", c)
	}
	if completed.Load() != 1 {
		t.Fatalf("completed = %d, want 1", completed.Load())
	}
	// Run has returned: everything dispatched is settled. The drained item is acknowledged; the
	// item sent during the drain is still there. (A pushed item is acknowledged when the sender
	// has read the answer, which may come just after Run returns.)
	if _, pushed := src.(PushSource); pushed {
		e.eventually("the drained item acknowledged", e.pendingIs(src, 1))
	}
	if n, err := src.Pending(e.ctx); err != nil || n != 1 {
		t.Errorf("pending after the drain = %d (%v), want 1 (drained item acknowledged, later item untouched)", n, err)
	}
	// Nothing is fetched after the stop.
	if err := src.Send(e.ctx, payload(t, 1)); err != nil {
		t.Fatal(err)
	}
	if n, err := src.Pending(e.ctx); err != nil || n != 2 {
		t.Errorf("pending after a post-stop send = %d (%v), want 2", n, err)
	}
	if rec.count(payload(t, 1)) != 0 {
		t.Error("an item sent after shutdown was delivered")
	}
}

// ShutdownDuringRetryWait: a shutdown during a retry policy's wait ends the wait at once
// (reference §5.1) and the item is settled as cancelled: neither acknowledged nor poisoned.
func testShutdownDuringRetryWait(t *testing.T, e *env) {
	src := e.newSource()
	failed := make(chan struct{}, 1)
	hh := e.start("retrywait", extension.Action(func(ctx context.Context, b []byte) error {
		select {
		case failed <- struct{}{}:
		default:
		}
		return errInjected
	}), e.hostOptions(func(o *extension.HostOptions) {
		o.HostConfig.Retry = &extension.RetryPolicy{Strategy: extension.FixedDelay, MaxRetryCount: 5, DelayInterval: time.Hour}
	}), src.Trigger("item"))
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-failed:
	case <-time.After(e.wait):
		t.Fatal("handler did not run")
	}
	begin := time.Now()
	if err := e.shutdown(hh); err != nil {
		t.Errorf("Run: %v", err)
	}
	if d := time.Since(begin); d >= e.wait {
		t.Errorf("shutdown took %v: the retry wait held it until the drain deadline (%v)", d, e.wait)
	}
	if n, err := src.Pending(e.ctx); err != nil || n != 1 {
		t.Errorf("pending after shutdown during a retry wait = %d (%v), want 1 (cancelled: not acknowledged, not poisoned)", n, err)
	}
}

// CancelAtDrainDeadline: an invocation still running at the drain deadline is cancelled and its
// item is not acknowledged.
func testCancelAtDeadline(t *testing.T, e *env) {
	src := e.newSource()
	started := make(chan struct{}, 1)
	var sawCancel atomic.Bool
	hh := e.start("deadline", extension.Action(func(ctx context.Context, b []byte) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.Canceled) {
			sawCancel.Store(true)
		}
		return ctx.Err()
	}), e.hostOptions(func(o *extension.HostOptions) { o.ShutdownTimeout = 200 * time.Millisecond }), src.Trigger("item"))
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(e.wait):
		t.Fatal("handler did not start")
	}
	if err := e.shutdown(hh); err != nil {
		t.Errorf("Run: %v", err)
	}
	if !sawCancel.Load() {
		t.Error("handler ctx was not cancelled at the drain deadline")
	}
	if n, err := src.Pending(e.ctx); err != nil || n != 1 {
		t.Errorf("pending after cancelled invocation = %d (%v), want 1 (not acknowledged)", n, err)
	}
}

// CompetingConsumers: two hosts on one source process every item exactly once.
func testCompetingConsumers(t *testing.T, e *env) {
	src := e.newSource()
	var rec recorder
	handler := extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		rec.add(b, nil)
		return nil
	})
	e.start("shared", handler, e.hostOptions(), src.Trigger("item"))
	e.start("shared", handler, e.hostOptions(), src.Trigger("item"))
	e.sendAndExpectExactlyOnce(t, src, &rec, 20)
}

// OutputRoundTrip: what the handler returns reaches the output destination byte for byte, and
// only successful invocations write.
func testOutputRoundTrip(t *testing.T, e *env) {
	oh, ok := e.h.(OutputHarness)
	if !ok {
		t.Fatal("harness is not an OutputHarness")
	}
	src := e.newSource()
	dst := oh.NewDestination(e.ctx, t)
	var rec recorder
	e.start("roundtrip", extension.Func(func(ctx context.Context, b []byte) ([]byte, error) {
		b = e.sent(b)
		if bytes.Contains(b, []byte(`"n":1,`)) && rec.add(b, nil) == 1 {
			return []byte("must not be written"), errInjected
		}
		return append([]byte("out:"), b...), nil
	}), e.hostOptions(), src.Trigger("item"), dst.Output("$return"))
	want := [][]byte{append([]byte("out:"), payload(t, 0)...)}
	if err := src.Send(e.ctx, payload(t, 0)); err != nil {
		t.Fatal(err)
	}
	if e.caps.Redelivery {
		if err := src.Send(e.ctx, payload(t, 1)); err != nil {
			t.Fatal(err)
		}
		want = append(want, append([]byte("out:"), payload(t, 1)...))
	}
	// The items the successful poll read are the ones checked: reading again could see fewer
	// (a destination read on a busy machine may return before everything arrived).
	var got [][]byte
	e.eventually("outputs written", func() (bool, error) {
		var err error
		got, err = dst.Received(e.ctx)
		return len(got) >= len(want), err
	})
	for _, g := range got {
		if bytes.Equal(g, []byte("must not be written")) {
			t.Error("a failed invocation's output was written")
		}
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g []byte) bool { return bytes.Equal(g, w) }) {
			t.Errorf("output %q missing from %q", w, got)
		}
	}
}

// memSourceHarness drives output tests from the in-memory trigger, so that output-only connectors
// run them too.
type memSourceHarness struct{ OutputHarness }

func (m memSourceHarness) Capabilities() Capabilities {
	c := m.OutputHarness.Capabilities()
	hc := map[string]map[string]any{"memory": {"maxDeliveries": 1}}
	for k, v := range c.HostConfig {
		hc[k] = v
	}
	c.HostConfig = hc
	return c
}

var memSeq atomic.Int64

func (m memSourceHarness) NewSource(_ context.Context, t *testing.T) Source {
	return memSource{memconn.Default.Queue(fmt.Sprintf("conformance-out-%d", memSeq.Add(1)))}
}

type memSource struct{ q *memconn.Queue }

func (s memSource) Trigger(name string) *driver.BindingSpec {
	return driver.Binding("memTrigger", name, driver.DirIn, driver.Props{"queue": s.qname()})
}
func (s memSource) qname() string                              { return s.q.Name() }
func (s memSource) Send(_ context.Context, p []byte) error     { s.q.Send(p); return nil }
func (s memSource) Pending(context.Context) (int, error)       { return s.q.Pending(), nil }
func (s memSource) Poisoned(context.Context) ([][]byte, error) { return s.q.Dead(), nil }

var outputTests = []struct {
	name string
	many bool // writes several items per invocation
	run  func(t *testing.T, e *env, h OutputHarness)
}{
	{"OutputSingle", false, testOutputSingle},
	{"OutputCollector", true, testOutputCollector},
	{"OutputNotOnFailure", false, testOutputNotOnFailure},
}

// item returns what to write for item i and what Received must report.
func item(dst Destination, i int, p []byte) (any, []byte) {
	if im, ok := dst.(ItemMaker); ok {
		return im.Item(i, p)
	}
	return p, p
}

type numbered struct {
	I int `json:"i"`
}

func numberedPayload(i int) []byte { return fmt.Appendf(nil, `{"i":%d}`, i) }

func (e *env) expectReceived(dst Destination, want [][]byte) {
	e.t.Helper()
	// The items the successful poll read are the ones checked: reading again could see fewer
	// (a destination read on a busy machine may return before everything arrived).
	var got [][]byte
	e.eventually("outputs written", func() (bool, error) {
		var err error
		got, err = dst.Received(e.ctx)
		return len(got) >= len(want), err
	})
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g []byte) bool { return bytes.Equal(g, w) }) {
			e.t.Errorf("output %q missing from %q", w, got)
		}
	}
	if len(got) != len(want) {
		e.t.Errorf("received %d items, want %d: %q", len(got), len(want), got)
	}
}

// OutputSingle: a returned value reaches the destination, one item per invocation.
func testOutputSingle(t *testing.T, e *env, h OutputHarness) {
	src := e.newSource()
	dst := h.NewDestination(e.ctx, t)
	e.start("single", extension.Func(func(ctx context.Context, n numbered) (any, error) {
		v, _ := item(dst, n.I, numberedPayload(n.I))
		return v, nil
	}), e.hostOptions(), src.Trigger("item"), dst.Output("$return"))
	var want [][]byte
	for i := range 3 {
		_, r := item(dst, i, numberedPayload(i))
		want = append(want, r)
		if err := src.Send(e.ctx, numberedPayload(i)); err != nil {
			t.Fatal(err)
		}
	}
	e.expectReceived(dst, want)
}

// OutputCollector: many items written through a Collector in one invocation.
func testOutputCollector(t *testing.T, e *env, h OutputHarness) {
	src := e.newSource()
	dst := h.NewDestination(e.ctx, t)
	e.start("collector", extension.Reflect(func(ctx context.Context, n numbered, c *extension.Collector[any]) error {
		for i := range 3 {
			v, _ := item(dst, 10*n.I+i, numberedPayload(10*n.I+i))
			if err := c.Add(ctx, v); err != nil {
				return err
			}
		}
		return nil
	}), e.hostOptions(), src.Trigger("item"), dst.Output("out"))
	if err := src.Send(e.ctx, numberedPayload(1)); err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 3 {
		_, r := item(dst, 10+i, numberedPayload(10+i))
		want = append(want, r)
	}
	e.expectReceived(dst, want)
}

// OutputNotOnFailure: items added by an invocation that fails are never written.
func testOutputNotOnFailure(t *testing.T, e *env, h OutputHarness) {
	src := e.newSource()
	dst := h.NewDestination(e.ctx, t)
	e.start("fails", extension.Reflect(func(ctx context.Context, n numbered, c *extension.Collector[any]) error {
		v, _ := item(dst, n.I, numberedPayload(n.I))
		if err := c.Add(ctx, v); err != nil {
			return err
		}
		if n.I == 0 {
			return errInjected
		}
		return nil
	}), e.hostOptions(), src.Trigger("item"), dst.Output("out"))
	if err := src.Send(e.ctx, numberedPayload(0)); err != nil {
		t.Fatal(err)
	}
	e.eventually("failed item dead-lettered", func() (bool, error) {
		got, err := src.Poisoned(e.ctx)
		return len(got) == 1, err
	})
	// A later successful invocation proves the destination works; only its item may be there.
	if err := src.Send(e.ctx, numberedPayload(1)); err != nil {
		t.Fatal(err)
	}
	_, r := item(dst, 1, numberedPayload(1))
	e.expectReceived(dst, [][]byte{r})
}
