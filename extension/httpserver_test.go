package extension_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/azhttp"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
)

// A trigger whose scale figures cannot be read, with a service error full of details.
type scrubTrigger struct{}

func (scrubTrigger) Run(ctx context.Context, _ driver.Executor) error { <-ctx.Done(); return nil }
func (scrubTrigger) Scale(context.Context) (driver.ScaleMetrics, error) {
	return driver.ScaleMetrics{}, errors.New("GET https://acct.blob.core.windows.net/secret-container?sv=2024&sig=SECRETSIG: 403 AuthorizationFailure")
}

func init() {
	driver.Register(driver.Extension{Name: "scrubtest", Bindings: []driver.BindingType{{Type: "scrubTrigger",
		NewTrigger: func(context.Context, *driver.BindContext) (driver.Trigger, error) { return scrubTrigger{}, nil }}}})
}

// httpHost is a host serving on its own loopback server.
type httpHost struct {
	*extension.Host
	base   string
	cancel context.CancelFunc
	done   chan error
}

func startHTTP(t *testing.T, o extension.HostOptions, declare func(h *extension.Host)) *httpHost {
	t.Helper()
	o.HTTPAddr = "127.0.0.1:0"
	if o.Storage == nil {
		o.Storage = extension.NewMemoryStorage()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HostID == "" {
		o.HostID = "http-test"
	}
	h, err := extension.NewHost(o)
	if err != nil {
		t.Fatal(err)
	}
	declare(h)
	ctx, cancel := context.WithCancel(context.Background())
	hh := &httpHost{Host: h, cancel: cancel, done: make(chan error, 1)}
	go func() { hh.done <- h.Run(ctx) }()
	waitFor(t, "listening", func() bool {
		select {
		case err := <-hh.done:
			t.Fatalf("Run: %v", err)
		default:
		}
		return h.Addr() != ""
	})
	hh.base = "http://" + h.Addr()
	t.Cleanup(func() { hh.stop(t) })
	return hh
}

func (hh *httpHost) stop(t *testing.T) {
	hh.cancel()
	select {
	case err, ok := <-hh.done:
		if ok {
			close(hh.done)
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatal("host did not stop")
	}
}

// do sends one request with Go's client; key goes in x-functions-key when not "".
func do(t *testing.T, method, url, key string, body io.Reader, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-functions-key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// keyOf returns a key of the host by kind and name.
func keyOf(t *testing.T, h *extension.Host, kind, name string) string {
	t.Helper()
	es, err := h.HostKeys().List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Kind == kind && e.Name == name {
			return e.Value
		}
	}
	t.Fatalf("no %s key %s", kind, name)
	return ""
}

// functionKey returns the default key of a function.
func functionKey(t *testing.T, h *extension.Host, fn string) string {
	t.Helper()
	es, err := h.HostKeys().List(context.Background(), fn)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Scope == "function "+fn && e.Name == "default" {
			return e.Value
		}
	}
	t.Fatalf("no key of %s", fn)
	return ""
}

// pathOf fills a route template's parameters with sample values.
func pathOf(tmpl string) string {
	segs := strings.Split(tmpl, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{*") {
			segs[i] = "x/y"
		} else if strings.HasPrefix(s, "{") {
			segs[i] = "x"
		}
	}
	return "/" + strings.Join(segs, "/")
}

func declareRouteHost(h *extension.Host) {
	nop := extension.Action(func(context.Context, string) error { return nil })
	_ = h.Func("Push", nop, extension.Binding("memPushTrigger", "item", extension.DirIn, nil))
	_ = h.Func("Ev", nop, eventgrid.Trigger("ev"))
	_ = h.Func("Manual", nop, extension.ManualTrigger("input"))
	echo := extension.Func(func(_ context.Context, s string) (string, error) { return s, nil })
	_ = h.Func("Open", echo, azhttp.Trigger("req", &azhttp.TriggerOptions{AuthLevel: driver.AuthAnonymous}), azhttp.Output("$return"))
	_ = h.Func("Keyed", echo, azhttp.Trigger("req", nil), azhttp.Output("$return"))
	_ = h.Func("Other", echo, azhttp.Trigger("req", &azhttp.TriggerOptions{Route: "other/{id:int}"}), azhttp.Output("$return"))
}

// Every route the host serves, listed from its router, checked for its level over a real socket:
// without a key (or with a wrong one) nothing but ping and anonymous routes answer; a host
// function key reaches function routes only, a system key its own extension's routes, the
// master key everything ([FH] Security: master ⇒ admin, systemKeys ⇒ system, functionKeys ⇒
// function).
func TestEveryRouteHasItsLevel(t *testing.T) {
	hh := startHTTP(t, extension.HostOptions{}, declareRouteHost)
	waitFor(t, "webhooks mounted", func() bool {
		n := 0
		for _, r := range hh.RoutesForTest() {
			if strings.HasPrefix(r.Template, "runtime/webhooks/") {
				n++
			}
		}
		return n == 2 && len(hh.RoutesForTest()) == 10
	})
	routes := hh.RoutesForTest()
	want := map[string]driver.AuthLevel{"admin/host/ping": driver.AuthAnonymous, "admin/host/status": driver.AuthAdmin, "admin/scale": driver.AuthAdmin,
		"admin/functions/{name}": driver.AuthAdmin, "admin/{*rest}": driver.AuthAdmin, "runtime/webhooks/memory": driver.AuthSystem, "runtime/webhooks/eventgrid": driver.AuthSystem,
		"api/Open": driver.AuthAnonymous, "api/Keyed": driver.AuthFunction, "api/other/{id:int}": driver.AuthFunction}
	for _, r := range routes {
		if lvl, ok := want[r.Template]; ok && lvl != r.Level {
			t.Errorf("route %s has level %v, want %v", r.Template, r.Level, lvl)
		}
		delete(want, r.Template)
	}
	if len(want) > 0 {
		t.Fatalf("routes not mounted: %v", want)
	}
	master := keyOf(t, hh.Host, "master", "master")
	hostKey := keyOf(t, hh.Host, "function", "default")
	memKey := keyOf(t, hh.Host, "system", memconn.PushKeyName)
	keyedKey := functionKey(t, hh.Host, "Keyed")
	for _, r := range routes {
		method := http.MethodGet
		if len(r.Methods) > 0 {
			method = r.Methods[0]
		}
		url := hh.base + strings.ReplaceAll(pathOf(r.Template), "/x", "/1") + "?functionName=Nobody"
		for _, c := range []struct {
			who   string
			key   string
			admit bool
		}{
			{"no key", "", r.Level == driver.AuthAnonymous},
			{"a wrong key", "not-a-key-of-this-host", r.Level == driver.AuthAnonymous},
			{"the host function key", hostKey, r.Level == driver.AuthAnonymous || r.Level == driver.AuthFunction || r.Level == driver.AuthUser},
			{"the memory_extension key", memKey, r.Level == driver.AuthAnonymous || r.Level == driver.AuthFunction || r.Level == driver.AuthUser || (r.Level == driver.AuthSystem && r.SystemKey == memconn.PushKeyName)},
			{"Keyed's own key", keyedKey, r.Level == driver.AuthAnonymous || r.Function == "Keyed"},
			{"the master key", master, true},
		} {
			code, body, _ := do(t, method, url, c.key, strings.NewReader("{}"))
			if got := code != http.StatusUnauthorized; got != c.admit {
				t.Errorf("%s /%s (%v) with %s: %d, admitted %v, want %v", method, r.Template, r.Level, c.who, code, got, c.admit)
			}
			if code == http.StatusUnauthorized && body != "" {
				t.Errorf("401 carries a body: %q", body)
			}
		}
	}
	// An admin path nobody mounted needs the master key too; no route at all is 404.
	if code, _, _ := do(t, "GET", hh.base+"/admin/host/keys", "", nil); code != 401 {
		t.Errorf("unknown admin path without a key: %d, want 401", code)
	}
	if code, _, _ := do(t, "GET", hh.base+"/admin/host/keys", master, nil); code != 404 {
		t.Errorf("unknown admin path with the master key: %d, want 404", code)
	}
	if code, _, _ := do(t, "GET", hh.base+"/nothing/here", "", nil); code != 404 {
		t.Errorf("no route: %d, want 404", code)
	}
}

// The key is read from x-functions-key, which wins over the code query parameter ([FH]
// AuthenticationLevelHandler); a key that is nearly right is refused.
func TestKeyHeaderWinsOverQuery(t *testing.T) {
	hh := startHTTP(t, extension.HostOptions{}, declareRouteHost)
	master := keyOf(t, hh.Host, "master", "master")
	status := hh.base + "/admin/host/status"
	for _, c := range []struct {
		header, code string
		want         int
	}{
		{master, "", 200},
		{"", master, 200},
		{master, "wrong", 200},
		{"wrong", master, 401}, // the header wins
		{master[:len(master)-1] + "x", "", 401},
		{master[:40], "", 401},
		{master + "x", "", 401},
		{strings.ToUpper(master), "", 401},
	} {
		u := status
		if c.code != "" {
			u += "?code=" + c.code
		}
		if code, _, _ := do(t, "GET", u, c.header, nil); code != c.want {
			t.Errorf("header %t, code %t: %d, want %d", c.header == master, c.code == master, code, c.want)
		}
	}
}

// POST /admin/functions/<Name> {"input": …} with the master key runs any function, whatever its
// trigger, and answers 202 at once ([FH] FunctionsController.Invoke: 400 without a body, 404 for
// an unknown function); manualTrigger functions (a v4 built-in, here from an app folder) run only
// that way.
func TestManualInvoke(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("host.json", `{"version": "2.0"}`)
	write("Manual/function.json", `{"bindings": [{"type": "manualTrigger", "direction": "in", "name": "input"}]}`)
	qname, _ := newQueue(t)
	got := make(chan string, 4)
	hh := startHTTP(t, extension.HostOptions{Settings: connection.NewSettings()}, func(h *extension.Host) {
		if err := h.LoadAppDir(dir); err != nil {
			t.Fatal(err)
		}
		h.Handle("Manual", extension.Action(func(_ context.Context, s string) error { got <- "manual:" + s; return nil }))
		_ = h.Func("Queued", extension.Action(func(_ context.Context, s string) error { got <- "queued:" + s; return nil }), trig(qname))
	})
	master := keyOf(t, hh.Host, "master", "master")
	for fn, want := range map[string]string{"Manual": "manual:hello", "queued": "queued:hello"} {
		code, _, _ := do(t, "POST", hh.base+"/admin/functions/"+fn, master, strings.NewReader(`{"input": "hello"}`), "Content-Type", "application/json")
		if code != http.StatusAccepted {
			t.Fatalf("%s: %d, want 202", fn, code)
		}
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("%s ran with %q, want %q", fn, s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not run", fn)
		}
	}
	if code, _, _ := do(t, "POST", hh.base+"/admin/functions/Nope", master, strings.NewReader(`{"input": "x"}`)); code != 404 {
		t.Errorf("unknown function: %d, want 404", code)
	}
	if code, _, _ := do(t, "POST", hh.base+"/admin/functions/Manual", master, nil); code != 400 {
		t.Errorf("no body: %d, want 400", code)
	}
	if code, _, _ := do(t, "POST", hh.base+"/admin/functions/Manual", "", strings.NewReader(`{"input": "x"}`)); code != 401 {
		t.Errorf("without the master key: %d, want 401", code)
	}
	if code, _, _ := do(t, "POST", hh.base+"/admin/functions/Manual", keyOf(t, hh.Host, "function", "default"), strings.NewReader(`{"input": "x"}`)); code != 401 {
		t.Errorf("with a function key: %d, want 401", code)
	}
	select {
	case s := <-got:
		t.Fatalf("an unauthorised request ran the function: %q", s)
	default:
	}
}

// /admin/scale never carries a service's own error: it says the figures could not be read, and
// the detail (redacted) is in the host log.
func TestAdminScaleScrubbed(t *testing.T) {
	var logs syncBuf
	hh := startHTTP(t, extension.HostOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, func(h *extension.Host) {
		_ = h.Func("S", extension.Action(func(context.Context, string) error { return nil }), extension.Binding("scrubTrigger", "x", extension.DirIn, nil))
	})
	code, body, _ := do(t, "GET", hh.base+"/admin/scale", keyOf(t, hh.Host, "master", "master"), nil)
	if code != 200 || !strings.Contains(body, "the trigger's service could not be read; see the host log") {
		t.Fatalf("/admin/scale = %d %s", code, body)
	}
	for _, leak := range []string{"SECRETSIG", "acct.blob", "secret-container", "AuthorizationFailure"} {
		if strings.Contains(body, leak) {
			t.Errorf("/admin/scale carries %q", leak)
		}
	}
	if !strings.Contains(logs.String(), "AuthorizationFailure") || strings.Contains(logs.String(), "SECRETSIG") {
		t.Errorf("the host log should have the error, redacted")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// pushHost runs a memPushTrigger function whose handler blocks until release is closed.
func pushHost(t *testing.T, cfg *extension.HostConfig, entered chan<- struct{}, release <-chan struct{}) (*httpHost, string) {
	hh := startHTTP(t, extension.HostOptions{HostConfig: cfg, Settings: connection.NewSettings(connection.FromMap("t", map[string]string{"host.systemKey.memory_extension": "push-key"})), ShutdownTimeout: 30 * time.Second}, func(h *extension.Host) {
		_ = h.Func("Push", extension.Action(func(context.Context, string) error {
			entered <- struct{}{}
			<-release
			return nil
		}), extension.Binding("memPushTrigger", "item", extension.DirIn, nil))
	})
	u := memconn.PushURL(hh.base, "Push", "push-key")
	waitFor(t, "push route", func() bool {
		for _, r := range hh.RoutesForTest() {
			if r.Template == "runtime/webhooks/memory" {
				return true
			}
		}
		return false
	})
	return hh, u
}

// Over host.json extensions.http maxOutstandingRequests the host answers 429 with
// X-FUNCTION-SCALEOUT: 1 ([FH] HttpThrottleMiddleware / HttpRequestQueue); keys of the section
// that the HTTP trigger reads (routePrefix) are not refused; admin paths are not counted.
func TestMaxOutstandingRequests429(t *testing.T) {
	cfg := &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"http": {"routePrefix": "api", "maxOutstandingRequests": float64(1), "maxConcurrentRequests": float64(1)}}}
	entered, release := make(chan struct{}, 4), make(chan struct{})
	hh, u := pushHost(t, cfg, entered, release)
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(u, "application/json", strings.NewReader(`"a"`))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-entered
	code, _, hdr := do(t, "POST", u, "", strings.NewReader(`"b"`))
	if code != http.StatusTooManyRequests || hdr.Get("X-FUNCTION-SCALEOUT") != "1" {
		t.Fatalf("over maxOutstandingRequests: %d, X-FUNCTION-SCALEOUT %q; want 429 and 1", code, hdr.Get("X-FUNCTION-SCALEOUT"))
	}
	if code, _, _ := do(t, "GET", hh.base+"/admin/host/ping", "", nil); code != 200 {
		t.Fatalf("ping under load: %d", code)
	}
	close(release)
	if c := <-first; c != http.StatusAccepted {
		t.Fatalf("the request in flight: %d", c)
	}
}

// Up to maxConcurrentRequests run at once; the others wait (within maxOutstandingRequests) and
// run when a slot frees.
func TestMaxConcurrentRequestsQueue(t *testing.T) {
	cfg := &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"http": {"maxOutstandingRequests": float64(10), "maxConcurrentRequests": float64(1)}}}
	entered, release := make(chan struct{}, 4), make(chan struct{})
	hh, u := pushHost(t, cfg, entered, release)
	codes := make(chan int, 2)
	post := func() {
		resp, err := http.Post(u, "application/json", strings.NewReader(`"a"`))
		if err != nil {
			codes <- 0
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}
	go post()
	<-entered
	go post()
	waitFor(t, "the second request queued", func() bool { return hh.QueuedForTest() == 1 })
	select {
	case <-entered:
		t.Fatal("a second request runs while maxConcurrentRequests is 1")
	default:
	}
	release <- struct{}{} // the first finishes; the second takes its slot
	<-entered
	close(release)
	for range 2 {
		if c := <-codes; c != http.StatusAccepted {
			t.Fatalf("status %d, want 202", c)
		}
	}
}

func TestBadThrottleSettingIsAnError(t *testing.T) {
	cfg := &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"http": {"maxOutstandingRequests": "lots"}}}
	o := opts(nil)
	o.HostConfig = cfg
	o.Storage = extension.NewMemoryStorage()
	h, _ := extension.NewHost(o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := h.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "extensions.http.maxOutstandingRequests") {
		t.Fatalf("Run: %v, want an error naming extensions.http.maxOutstandingRequests", err)
	}
}

// While the host drains, requests in flight finish and new ones get 503 with Retry-After.
func TestDrainFinishesInFlightNewGet503(t *testing.T) {
	entered, release := make(chan struct{}, 4), make(chan struct{})
	hh, u := pushHost(t, nil, entered, release)
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(u, "application/json", strings.NewReader(`"a"`))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-entered
	hh.cancel()
	<-hh.Draining()
	for _, p := range []string{"/runtime/webhooks/memory?functionName=Push&code=push-key", "/api/anything"} {
		code, _, hdr := do(t, "POST", hh.base+p, "", strings.NewReader(`"b"`))
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Errorf("new request %s while draining: %d (Retry-After %q), want 503", p, code, hdr.Get("Retry-After"))
		}
	}
	close(release)
	if c := <-first; c != http.StatusAccepted {
		t.Fatalf("the request in flight during the drain: %d, want 202", c)
	}
	if err := <-hh.done; err != nil {
		t.Fatal(err)
	}
	close(hh.done)
}

// dribble is a request body that sends one byte per interval for a long time.
type dribble struct {
	every time.Duration
	left  int
}

func (d *dribble) Read(p []byte) (int, error) {
	if d.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(d.every)
	d.left--
	p[0] = 'x'
	return 1, nil
}

// 200 slow clients — bodies dribbled below the minimum data rate (to a route that reads its body
// and, without a key, to one that refuses before reading), headers dribbled, and idle keep-alive
// connections — are all cut by the server within its configured bounds, while each would hold
// its connection for minutes otherwise.
func TestSlowClientsAreCut(t *testing.T) {
	o := extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("t", map[string]string{"host.systemKey.memory_extension": "push-key"})),
		HTTP: extension.HTTPOptions{ReadHeaderTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond, ReadTimeout: 10 * time.Minute, // bodies: only the minimum rate cuts them
			MinBodyBytesPerSecond: 240, MinBodyRateGrace: 500 * time.Millisecond},
	}
	hh := startHTTP(t, o, func(h *extension.Host) {
		_ = h.Func("Push", extension.Action(func(context.Context, string) error { return nil }), extension.Binding("memPushTrigger", "item", extension.DirIn, nil))
	})
	waitFor(t, "push route", func() bool {
		code, _, _ := do(t, "POST", memconn.PushURL(hh.base, "Push", "push-key"), "", strings.NewReader(`"warm"`))
		return code == http.StatusAccepted
	})
	addr := hh.Addr()
	const n = 200
	var cut atomic.Int64
	var wg sync.WaitGroup
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cut.Add(1)
			switch i % 4 {
			case 0, 1: // a dribbled body, with the key (the body is read) or without (401 first)
				u := memconn.PushURL("http://"+addr, "Push", "push-key")
				if i%4 == 1 {
					u = "http://" + addr + "/runtime/webhooks/memory?functionName=Push"
				}
				req, _ := http.NewRequest("POST", u, &dribble{every: 200 * time.Millisecond, left: 1000})
				req.ContentLength = 1000
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			case 2: // headers dribbled
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer c.Close()
				go func() {
					c.Write([]byte("GET /admin/host/ping HTTP/1.1\r\nHost: x\r\n"))
					for range 1000 {
						time.Sleep(200 * time.Millisecond)
						if _, err := c.Write([]byte("X-A: b\r\n")); err != nil {
							return
						}
					}
				}()
				io.Copy(io.Discard, c) // returns when the server closes the connection
			case 3: // an idle keep-alive connection after one request
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer c.Close()
				c.Write([]byte("GET /admin/host/ping HTTP/1.1\r\nHost: x\r\n\r\n"))
				io.Copy(io.Discard, c)
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second) // each client would hold on for 200 s
	for cut.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d slow clients still connected after 60 s", n-cut.Load(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
}

// A 100 MiB body is not held: a declared length over the limit is refused before any byte is
// read, a chunked one is cut at the limit while reading, and the host's heap grows by far less
// than the body.
func TestBodyMemoryBounded(t *testing.T) {
	hh := startHTTP(t, extension.HostOptions{Settings: connection.NewSettings(connection.FromMap("t", map[string]string{"host.systemKey.eventgrid_extension": "eg-key"}))}, func(h *extension.Host) {
		_ = h.Func("Ev", extension.Action(func(context.Context, string) error { return nil }), eventgrid.Trigger("ev"))
	})
	u := hh.base + "/runtime/webhooks/eventgrid?functionName=Ev&code=eg-key"
	waitFor(t, "webhook", func() bool {
		code, _, _ := do(t, "POST", u, "", nil, "aeg-event-type", "Unsubscribe")
		return code == http.StatusAccepted
	})
	const size = 100 << 20
	// Collect garbage early so that the peak measures what is held, not what awaits collection.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	// Declared length: 413 at once.
	req, _ := http.NewRequest("POST", u, io.LimitReader(spaces{}, size))
	req.ContentLength = size
	req.Header.Set("aeg-event-type", "Notification")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared 100 MiB: %d, want 413", resp.StatusCode)
	}
	// Chunked: cut while reading.
	req, _ = http.NewRequest("POST", u, io.MultiReader(strings.NewReader("["), io.LimitReader(spaces{}, size)))
	req.ContentLength = -1
	req.Header.Set("aeg-event-type", "Notification")
	resp, err = http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked 100 MiB: %d, want 413", resp.StatusCode)
		}
	} // (the server may close the connection while the client still sends)
	close(stop)
	<-sampled
	// A handler that reads the body whole (as the Event Grid webhook does) holds up to the 32 MiB
	// limit, about twice that while io.ReadAll grows its buffer: less than the body. (With Functions'
	// 100 MiB limit this test fails: the declared body is read whole.)
	bound := int64(100 << 20)
	if raceEnabled {
		bound = 150 << 20
	}
	if grew := int64(peak.Load()) - int64(base); grew > bound {
		t.Fatalf("heap in use grew by %d MiB under a 100 MiB body", grew>>20)
	} else {
		t.Logf("heap in use grew by at most %d MiB", grew>>20)
	}
}

type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
