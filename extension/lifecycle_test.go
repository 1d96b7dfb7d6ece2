package extension_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/azbind/azbind/internal/hostkeys"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/storagetest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// A connector that holds what real ones hold: a shared per-host client with a goroutine of its
// own (an AMQP connection's reader, a scanner), a trigger and an output that own resources.
var (
	lcOpened, lcClosed        atomic.Int64 // shared clients
	lcTrigClosed, lcOutClosed atomic.Int64
	lcPermanent               atomic.Bool // lcTrigger.Run fails with ErrPermanent
	lcRunning                 atomic.Int64
)

type lcClientKey struct{ endpoint string }

type lcClient struct {
	stop chan struct{}
	done chan struct{}
}

func (c *lcClient) Close() error {
	close(c.stop)
	<-c.done
	lcClosed.Add(1)
	return nil
}

func openLCClient(context.Context) (*lcClient, error) {
	c := &lcClient{stop: make(chan struct{}), done: make(chan struct{})}
	go func() { defer close(c.done); <-c.stop }()
	lcOpened.Add(1)
	return c, nil
}

type lcTrigger struct{ c *lcClient }

func (t *lcTrigger) Run(ctx context.Context, _ driver.Executor) error {
	if lcPermanent.Load() {
		return fmt.Errorf("container %q: %w", "Bad", driver.ErrPermanent)
	}
	lcRunning.Add(1)
	defer lcRunning.Add(-1)
	<-ctx.Done()
	return nil
}
func (t *lcTrigger) Close() error { lcTrigClosed.Add(1); return nil }

type lcOutput struct{ c *lcClient }

func (o *lcOutput) Open(context.Context, *driver.FunctionContext) (driver.Sink, error) {
	return nil, errors.New("unused")
}
func (o *lcOutput) Close() error { lcOutClosed.Add(1); return nil }

func init() {
	shared := func(ctx context.Context, bc *driver.BindContext) (*lcClient, error) {
		ep, _ := bc.Spec.String("endpoint")
		return driver.Shared(ctx, bc.Host, lcClientKey{ep}, openLCClient)
	}
	driver.Register(driver.Extension{Name: "lifecycle", Bindings: []driver.BindingType{
		{Type: "lcTrigger", NewTrigger: func(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
			c, err := shared(ctx, bc)
			return &lcTrigger{c}, err
		}},
		{Type: "lcOut", NewOutput: func(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
			c, err := shared(ctx, bc)
			return &lcOutput{c}, err
		}},
	}})
}

func lcHost(t testing.TB) *extension.Host {
	h, err := extension.NewHost(opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	// Two functions on one endpoint share one client; a third endpoint opens a second.
	for i, ep := range []string{"a", "a", "b"} {
		err := h.Func(fmt.Sprintf("lc%d", i), extension.Reflect(func(context.Context, string, *extension.Collector[string]) error { return nil }),
			extension.Binding("lcTrigger", "in", extension.DirIn, extension.Props{"endpoint": ep}),
			extension.Binding("lcOut", "out", extension.DirOut, extension.Props{"endpoint": ep}))
		if err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func resetLC() {
	for _, c := range []*atomic.Int64{&lcOpened, &lcClosed, &lcTrigClosed, &lcOutClosed} {
		c.Store(0)
	}
}

// A host started and stopped 100 times in one process leaves no goroutines and no connector
// state behind: the runtime closes every trigger, output and shared client it opened.
func TestHostStartStopLeavesNothing(t *testing.T) {
	resetLC()
	before := runtime.NumGoroutine()
	const runs = 100
	for i := 0; i < runs; i++ {
		h := lcHost(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		waitFor(t, "triggers running", func() bool { return lcRunning.Load() == 3 })
		if n := h.Services().SharedCount(); n != 2 {
			t.Fatalf("run %d: %d shared clients open, want 2 (one per endpoint)", i, n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := h.Services().SharedCount(); n != 0 {
			t.Fatalf("run %d: %d shared values left after Run returned", i, n)
		}
	}
	if lcOpened.Load() != 2*runs || lcClosed.Load() != 2*runs {
		t.Errorf("shared clients opened %d, closed %d; want %d each", lcOpened.Load(), lcClosed.Load(), 2*runs)
	}
	if lcTrigClosed.Load() != 3*runs || lcOutClosed.Load() != 3*runs {
		t.Errorf("triggers closed %d, outputs closed %d; want %d each", lcTrigClosed.Load(), lcOutClosed.Load(), 3*runs)
	}
	// Goroutines return to where they were (others of this package's tests may run in
	// parallel only through t.Parallel, which this test does not share).
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after 100 runs\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// Verify builds every binding and closes it at once; a host can still Run afterwards.
func TestVerifyClosesWhatItBuilds(t *testing.T) {
	resetLC()
	h := lcHost(t)
	if err := h.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lcOpened.Load() != 2 || lcClosed.Load() != 2 || lcTrigClosed.Load() != 3 || lcOutClosed.Load() != 3 {
		t.Errorf("after Verify: shared opened %d closed %d, triggers closed %d, outputs closed %d; want 2 2 3 3",
			lcOpened.Load(), lcClosed.Load(), lcTrigClosed.Load(), lcOutClosed.Load())
	}
	if n := h.Services().SharedCount(); n != 0 {
		t.Errorf("%d shared values left after Verify", n)
	}
}

// A trigger error wrapping driver.ErrPermanent (one that retrying cannot clear) stops that
// function loudly; the other functions keep running and Run reports it when the host stops.
func TestPermanentTriggerErrorStopsOnlyItsFunction(t *testing.T) {
	name, q := newQueue(t)
	var mu sync.Mutex
	var buf bytes.Buffer
	o := opts(nil)
	o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	h, _ := extension.NewHost(o)
	got := make(chan string, 1)
	_ = h.Func("good", extension.Action(func(_ context.Context, s string) error { got <- s; return nil }), trig(name))
	_ = h.Func("bad", extension.Action(func(context.Context, string) error { return nil }),
		extension.Binding("lcTrigger", "in", extension.DirIn, extension.Props{"endpoint": "p"}))
	lcPermanent.Store(true)
	defer lcPermanent.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	waitFor(t, "the ERROR line", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(buf.String(), "level=ERROR") && strings.Contains(buf.String(), "function=bad")
	})
	q.Send([]byte("still running"))
	select {
	case s := <-got:
		if s != "still running" {
			t.Errorf("got %q", s)
		}
	case err := <-done:
		t.Fatalf("host stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the other function stopped too")
	}
	cancel()
	if err := <-done; !errors.Is(err, driver.ErrPermanent) || !strings.Contains(err.Error(), "bad") {
		t.Errorf("Run = %v, want the permanent error of function bad", err)
	}
}

// Without AzureWebJobsStorage the host runs on memory storage, says so at WARN, and a binding
// that needs durable state gets a ConfigError naming the setting; memory storage chosen
// explicitly (HostOptions.Storage) is allowed and silent.
func TestMemoryStorageIsLoudAndRefusedForDurableState(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	o := opts(nil)
	o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	h, _ := extension.NewHost(o)
	_ = h.Func("f", extension.Action(func(context.Context, string) error { return nil }),
		extension.Binding("lcTrigger", "in", extension.DirIn, nil))
	if err := h.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	logged := buf.String()
	mu.Unlock()
	if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "AzureWebJobsStorage") {
		t.Errorf("no WARN naming AzureWebJobsStorage:\n%s", logged)
	}
	_, err := h.Services().DurableStorage("the test trigger's checkpoints")
	var ce *driver.ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "AzureWebJobsStorage") {
		t.Errorf("DurableStorage on fallback memory = %v, want a ConfigError naming AzureWebJobsStorage", err)
	}

	buf.Reset()
	o.Storage = extension.NewMemoryStorage()
	h2, _ := extension.NewHost(o)
	_ = h2.Func("f", extension.Action(func(context.Context, string) error { return nil }),
		extension.Binding("lcTrigger", "in", extension.DirIn, nil))
	if err := h2.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, err := h2.Services().DurableStorage("checkpoints"); err != nil || st == nil {
		t.Errorf("explicit memory storage refused: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), "AzureWebJobsStorage") {
		t.Errorf("explicit memory storage warned:\n%s", buf.String())
	}
}

// MemoryStorage behaves as the durable store does (the same suite runs on Azurite in
// internal/hoststore).
func TestMemoryStorageContract(t *testing.T) {
	storagetest.Run(t, extension.NewMemoryStorage())
}

func (t *lcTrigger) Scale(context.Context) (driver.ScaleMetrics, error) {
	return driver.ScaleMetrics{Backlog: 40, TargetPerInstance: 16}, nil
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	return getKey(t, h, path, "")
}

func getKey(t *testing.T, h http.Handler, path, key string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set("x-functions-key", key)
	}
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// masterKey returns the host's master key (once Run has opened the keys).
func masterKey(t *testing.T, h *extension.Host) string {
	t.Helper()
	var keys *hostkeys.Store
	waitFor(t, "host keys", func() bool { keys = h.HostKeys(); return keys != nil })
	es, err := keys.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Kind == "master" {
			return e.Value
		}
	}
	t.Fatal("no master key")
	return ""
}

// The host serves readiness, status and scale figures (for KEDA's metrics-api scaler) on its
// handler; ping turns 503 as soon as the host drains.
func TestAdminEndpoints(t *testing.T) {
	name, q := newQueue(t)
	o := opts(nil)
	o.ShutdownTimeout = 30 * time.Second
	h, _ := extension.NewHost(o)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	_ = h.Func("busy", extension.Action(func(context.Context, string) error { started <- struct{}{}; <-release; return nil }), trig(name))
	_ = h.Func("scaled", extension.Reflect(func(context.Context, string, *extension.Collector[string]) error { return nil }),
		extension.Binding("lcTrigger", "in", extension.DirIn, extension.Props{"endpoint": "s"}),
		extension.Binding("lcOut", "out", extension.DirOut, extension.Props{"endpoint": "s"}))
	handler := h.Handler()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	waitFor(t, "ping 200", func() bool { code, _ := get(t, handler, "/admin/host/ping"); return code == 200 })
	mk := masterKey(t, h)
	for _, p := range []string{"/admin/scale", "/admin/host/status"} {
		if code, body := get(t, handler, p); code != http.StatusUnauthorized || body != "" {
			t.Errorf("%s without the master key = %d %q, want 401", p, code, body)
		}
	}

	code, body := getKey(t, handler, "/admin/scale", mk)
	var rep extension.ScaleReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 {
		t.Fatalf("/admin/scale = %d %s (%v)", code, body, err)
	}
	if rep.TargetInstances != 3 || rep.Backlog != 40 || len(rep.Functions) != 1 || rep.Functions[0].Name != "scaled" || rep.Functions[0].TargetPerInstance != 16 {
		t.Errorf("/admin/scale = %+v, want one function with backlog 40, 16 per instance, 3 instances", rep)
	}
	if code, body := getKey(t, handler, "/admin/host/status", mk); code != 200 || !strings.Contains(body, `"running"`) || !strings.Contains(body, "busy") {
		t.Errorf("/admin/host/status = %d %s", code, body)
	}

	q.Send([]byte("hold"))
	<-started
	cancel()
	<-h.Draining()
	if code, _ := get(t, handler, "/admin/host/ping"); code != http.StatusServiceUnavailable {
		t.Errorf("ping while draining = %d, want 503", code)
	}
	if code, body := getKey(t, handler, "/admin/host/status", mk); code != http.StatusServiceUnavailable || !strings.Contains(body, `"draining"`) {
		t.Errorf("/admin/host/status while draining = %d %s", code, body)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With HTTPAddr the host serves its handler itself, bounds request bodies (413), and closes
// the listener when Run returns.
func TestHostServesHTTP(t *testing.T) {
	name, _ := newQueue(t)
	o := opts(nil)
	o.HTTPAddr = "127.0.0.1:0"
	o.MaxRequestBodyBytes = 1024
	h, _ := extension.NewHost(o)
	_ = h.Func("f", extension.Action(func(context.Context, string) error { return nil }), trig(name))
	h.Services().Mux.(*http.ServeMux).HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.Write(b)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	waitFor(t, "listening", func() bool { return h.Addr() != "" })
	base := "http://" + h.Addr()
	resp, err := http.Get(base + "/admin/host/ping")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ping: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post(base+"/echo", "text/plain", strings.NewReader("small"))
	if b, _ := io.ReadAll(resp.Body); err != nil || string(b) != "small" {
		t.Errorf("echo = %q, %v", b, err)
	}
	resp.Body.Close()
	for _, body := range []io.Reader{strings.NewReader(strings.Repeat("x", 2048)), io.LimitReader(zeros{}, 4096)} {
		resp, err = http.Post(base+"/echo", "text/plain", body) // declared length, then chunked
		if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized body: %v %v, want 413", resp, err)
		} else {
			resp.Body.Close()
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", h.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("the host's listener is still open after Run returned")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Connectors record their metrics on the host's MeterProvider (Services.Meter), never nil.
func TestServicesMeter(t *testing.T) {
	h, _ := extension.NewHost(opts(nil))
	if h.Services().Meter == nil {
		t.Fatal("Services.Meter is nil without a MeterProvider")
	}
	o := opts(nil)
	o.MeterProvider = sdkmetric.NewMeterProvider()
	h2, _ := extension.NewHost(o)
	if h2.Services().Meter != o.MeterProvider {
		t.Errorf("Services.Meter = %v, want HostOptions.MeterProvider", h2.Services().Meter)
	}
}
