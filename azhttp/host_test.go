package azhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/azhttp"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	_ "github.com/azbind/azbind/internal/memconn"
	"github.com/azbind/azbind/internal/testlog"
)

// served is a running host with its own loopback server.
type served struct {
	*extension.Host
	base string
	logs *testlog.Buffer
}

func hostOptions(settings map[string]string, logs *testlog.Buffer) extension.HostOptions {
	return extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("test", settings)),
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		HostID:   "azhttp-test",
		HTTPAddr: "127.0.0.1:0",
	}
}

// start runs the host until the test ends and waits until probe ("path" or "METHOD path" of one
// of its HTTP functions) is answered with anything but 404.
func start(t *testing.T, h *extension.Host, logs *testlog.Buffer, probe string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	s := &served{Host: h, logs: logs}
	deadline := time.Now().Add(30 * time.Second)
	for s.base == "" {
		if a := h.Addr(); a != "" {
			s.base = "http://" + a
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned before serving: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host never listened\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitServed(t, s, probe)
	return s
}

// waitServed polls probe until it is answered with anything but 404 (the trigger mounts its
// route when it starts).
func waitServed(t *testing.T, s *served, probe string) {
	t.Helper()
	method, path, ok := strings.Cut(probe, " ")
	if !ok {
		method, path = "GET", probe
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(method, s.base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was never served\n%s", probe, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type result struct {
	code   int
	header http.Header
	body   string
}

func (s *served) do(t *testing.T, method, path, contentType, body string, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The function.json of Core Tools' "HTTP trigger" template (JavaScript), anonymous so that it
// answers before keys exist, and a copy at its default level.
const templateFunction = `{
  "bindings": [
    {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req", "methods": ["get", "post"]},
    {"type": "http", "direction": "out", "name": "res"}
  ]
}`

type templateOut struct {
	Res azhttp.Response `azbind:"res"`
}

// The template's logic: name from the query or the JSON body.
func hello(_ context.Context, r *http.Request) (templateOut, error) {
	name := r.URL.Query().Get("name")
	if name == "" {
		var body struct{ Name string }
		json.NewDecoder(r.Body).Decode(&body)
		name = body.Name
	}
	if name == "" {
		return templateOut{azhttp.Text(200, "This HTTP triggered function executed successfully. Pass a name in the query string or in the request body for a personalized response.")}, nil
	}
	return templateOut{azhttp.Text(200, "Hello, "+name+". This HTTP triggered function executed successfully.")}, nil
}

func TestAppFolderServes(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"host.json":                 `{"version": "2.0"}`,
		"HttpExample/function.json": templateFunction,
		"Keyed/function.json":       strings.Replace(templateFunction, `"anonymous"`, `"function"`, 1),
		"Products/function.json":    `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "methods": ["get"], "route": "products/{category:alpha}/{id:int?}"}, {"type": "http", "direction": "out", "name": "$return"}]}`,
		"Typed/function.json":       `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "order", "authLevel": "anonymous", "route": "typed"}, {"type": "http", "direction": "out", "name": "$return"}]}`,
		"Fails/function.json":       `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}, {"type": "http", "direction": "out", "name": "$return"}]}`,
		"NoReply/function.json":     `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}]}`,
		"Shape/function.json":       `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}, {"type": "http", "direction": "out", "name": "$return"}]}`,
		"StreamIt/function.json":    `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "route": "stream/{n}"}]}`,
		"HttpExample/index.js":      "// the original's code; azbind runs the Go handler",
		"Products/README.md":        "not a function file",
		"local.settings.json":       `{"IsEncrypted": false, "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom"}}`,
	})
	logs := &testlog.Buffer{}
	h, err := extension.NewHost(hostOptions(nil, logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LoadAppDir(dir); err != nil {
		t.Fatal(err)
	}
	h.Handle("HttpExample", extension.Func(hello))
	h.Handle("Keyed", extension.Func(hello))
	h.Handle("Products", extension.Func(func(_ context.Context, r *http.Request) (azhttp.Response, error) {
		v := driver.RouteValues(r)
		return azhttp.JSON(200, map[string]string{"category": v["category"], "id": v["id"]}), nil
	}))
	type order struct {
		SKU string
		Qty int
	}
	h.Handle("Typed", extension.Func(func(_ context.Context, o order) (azhttp.Response, error) {
		return azhttp.Response{Status: 201, Header: http.Header{"Location": {"/orders/" + o.SKU}}, Body: o}, nil
	}))
	h.Handle("Fails", extension.Func(func(context.Context, *http.Request) (azhttp.Response, error) {
		return azhttp.Response{}, errors.New("database password=hunter2 rejected")
	}))
	h.Handle("NoReply", extension.Action(func(context.Context, []byte) error { return nil }))
	h.Handle("Shape", extension.Func(func(_ context.Context, r *http.Request) (json.RawMessage, error) {
		// What a custom handler's Outputs carry for an http binding.
		return json.RawMessage(`{"statusCode": "202", "body": {"ok": true}, "headers": {"X-Custom": "1"}}`), nil
	}))
	h.Handle("StreamIt", extension.Action(azhttp.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, "n="+driver.RouteValues(r)["n"])
		http.NewResponseController(w).Flush()
		io.WriteString(w, ";done")
	}))))
	s := start(t, h, logs, "/api/products/a")

	for _, tc := range []struct {
		name, method, path, ct, body string
		code                         int
		want                         string
	}{
		{"query", "GET", "/api/HttpExample?name=Azure", "", "", 200, "Hello, Azure. This HTTP triggered function executed successfully."},
		{"json body", "POST", "/api/httpexample", "application/json", `{"name": "Azure"}`, 200, "Hello, Azure. This HTTP triggered function executed successfully."},
		{"no name", "GET", "/api/HttpExample", "", "", 200, "This HTTP triggered function executed successfully. Pass a name"},
		{"method not listed", "PUT", "/api/HttpExample", "", "", 404, ""},
		{"function level without key", "GET", "/api/Keyed?name=x", "", "", 401, ""},
		{"route values", "GET", "/api/products/electronics/357", "", "", 200, `{"category":"electronics","id":"357"}`},
		{"optional absent", "GET", "/api/Products/Electronics", "", "", 200, `{"category":"Electronics","id":""}`},
		{"constraint mismatch", "GET", "/api/products/123/357", "", "", 404, ""},
		{"method mismatch", "POST", "/api/products/electronics/1", "", "", 404, ""},
		{"no route", "GET", "/api/nosuch", "", "", 404, ""},
		{"no prefix", "GET", "/HttpExample", "", "", 404, ""},
		{"typed body", "POST", "/api/typed", "application/json", `{"SKU": "A1", "Qty": 2}`, 201, `{"SKU":"A1","Qty":2}`},
		{"typed bad body", "POST", "/api/typed", "application/json", `{"SKU": `, 500, ""},
		{"typed empty body", "POST", "/api/typed", "", "", 201, `{"SKU":"","Qty":0}`},
		{"failure", "GET", "/api/Fails", "", "", 500, ""},
		{"no reply", "POST", "/api/NoReply", "text/plain", "x", 200, ""},
		{"response shape", "GET", "/api/Shape", "", "", 202, `{"ok":true}`},
		{"stream", "GET", "/api/stream/7", "", "", 206, "n=7;done"},
	} {
		r := s.do(t, tc.method, tc.path, tc.ct, tc.body)
		if r.code != tc.code || !strings.HasPrefix(r.body, tc.want) || tc.want == "" && r.body != "" && tc.code != 404 && tc.code != 401 {
			t.Errorf("%s: %s %s = %d %q; want %d %q", tc.name, tc.method, tc.path, r.code, r.body, tc.code, tc.want)
		}
		switch tc.name {
		case "typed body":
			if r.header.Get("Location") != "/orders/A1" || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("typed body headers = %v", r.header)
			}
		case "response shape":
			if r.header.Get("X-Custom") != "1" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("response shape headers = %v", r.header)
			}
		case "query":
			if r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("text Content-Type = %q", r.header.Get("Content-Type"))
			}
		case "failure":
			if strings.Contains(r.body, "hunter2") {
				t.Error("the 500 carries the error text")
			}
		}
	}
}

// routePrefix "" removes the prefix; a custom one replaces it (host.json extensions.http).
func TestRoutePrefix(t *testing.T) {
	for _, tc := range []struct{ hostJSON, path, wrong string }{
		{`{"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}`, "/hello/x", "/api/hello/x"},
		{`{"version": "2.0", "extensions": {"http": {"routePrefix": "v1/fn"}}}`, "/v1/fn/hello/x", "/api/hello/x"},
		{`{"version": "2.0", "extensions": {"http": {}}}`, "/api/hello/x", "/hello/x"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			dir := writeApp(t, map[string]string{
				"host.json":           tc.hostJSON,
				"Hello/function.json": `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "route": "/hello/{who}"}, {"type": "http", "direction": "out", "name": "$return"}]}`,
			})
			logs := &testlog.Buffer{}
			h, err := extension.NewHost(hostOptions(nil, logs))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.LoadAppDir(dir); err != nil {
				t.Fatal(err)
			}
			h.Handle("Hello", extension.Func(func(_ context.Context, r *http.Request) (string, error) {
				return "hi " + driver.RouteValues(r)["who"], nil
			}))
			s := start(t, h, logs, tc.path)
			if r := s.do(t, "GET", tc.path, "", ""); r.code != 200 || r.body != "hi x" {
				t.Errorf("GET %s = %d %q", tc.path, r.code, r.body)
			}
			if r := s.do(t, "GET", tc.wrong, "", ""); r.code != 404 {
				t.Errorf("GET %s = %d; want 404", tc.wrong, r.code)
			}
		})
	}
}

// The web-app profile: routePrefix "" and a catch-all route. The host's own literal routes
// (admin/host/ping) still win by precedence; everything else reaches the function.
func TestCatchAllBesideAdminRoutes(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"host.json":         `{"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}`,
		"Web/function.json": `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "route": "{*path}"}, {"type": "http", "direction": "out", "name": "$return"}]}`,
	})
	logs := &testlog.Buffer{}
	h, err := extension.NewHost(hostOptions(nil, logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LoadAppDir(dir); err != nil {
		t.Fatal(err)
	}
	h.Handle("Web", extension.Func(func(_ context.Context, r *http.Request) (string, error) {
		return "page " + azhttp.RouteValues(r)["path"], nil
	}))
	s := start(t, h, logs, "/index.html")
	for path, want := range map[string]string{"/index.html": "page index.html", "/a/b%20c": "page a/b c", "/": "page "} {
		if r := s.do(t, "GET", path, "", ""); r.code != 200 || r.body != want {
			t.Errorf("GET %s = %d %q; want %q", path, r.code, r.body, want)
		}
	}
	if r := s.do(t, "GET", "/admin/host/ping", "", ""); r.code != 200 || strings.HasPrefix(r.body, "page") {
		t.Errorf("GET /admin/host/ping = %d %q; want the host's ping", r.code, r.body)
	}
}

// Load-time errors name the file, the field and the fix.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ fn, hostJSON, want string }{
		{`{"type": "httpTrigger", "direction": "in", "name": "req", "route": "a/{id:nosuch}"}`, "", `F/function.json: bindings[0]: route: route template "api/a/{id:nosuch}": segment "{id:nosuch}": parameter "id": constraint "nosuch": unknown constraint "nosuch"`},
		{`{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "everyone"}`, "", `F/function.json: bindings[0]: authLevel: "everyone" is not an authorization level`},
		{`{"type": "httpTrigger", "direction": "in", "name": "req", "methods": ["get", ""]}`, "", `methods: "" is not an HTTP method`},
		// A string instead of a list is one method; "get,post" would be a method no request has (all 404).
		{`{"type": "httpTrigger", "direction": "in", "name": "req", "methods": "get,post"}`, "", `methods: "GET,POST" is not an HTTP method: list HTTP methods such as ["get", "post"]`},
		{`{"type": "httpTrigger", "direction": "in", "name": "req"}`, `{"version": "2.0", "extensions": {"http": {"routePrefix": "{x}"}}}`, `host.json: extensions.http: routePrefix: must be a literal path`},
		{`{"type": "httpTrigger", "direction": "in", "name": "req", "route": "admin/host/status"}`, `{"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}`, `route: the route "admin/host/status" conflicts with the host's built-in routes`},
	} {
		hj := tc.hostJSON
		if hj == "" {
			hj = `{"version": "2.0"}`
		}
		dir := writeApp(t, map[string]string{"host.json": hj, "F/function.json": `{"bindings": [` + tc.fn + `]}`})
		h, err := extension.NewHost(hostOptions(nil, &testlog.Buffer{}))
		if err != nil {
			t.Fatal(err)
		}
		err = h.LoadAppDir(dir)
		if err == nil {
			h.Handle("F", extension.Action(func(context.Context, []byte) error { return nil }))
			err = h.Verify(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want %q", tc.fn, err, tc.want)
		}
	}
	// An http output answers an HTTP request: with another trigger it is a load error.
	dir0 := writeApp(t, map[string]string{"host.json": `{"version": "2.0"}`,
		"Q/function.json": `{"bindings": [{"type": "memTrigger", "direction": "in", "name": "m", "queue": "q"}, {"type": "http", "direction": "out", "name": "$return"}]}`})
	h0, _ := extension.NewHost(hostOptions(nil, &testlog.Buffer{}))
	if err := h0.LoadAppDir(dir0); err != nil {
		t.Fatal(err)
	}
	h0.Handle("Q", extension.Func(func(_ context.Context, s string) (string, error) { return s, nil }))
	if err := h0.Verify(context.Background()); err == nil || !strings.Contains(err.Error(), "an http output answers an HTTP request, and this function's trigger is memTrigger") {
		t.Errorf("http output on a memTrigger: %v", err)
	}
	// Two functions on one route.
	dir := writeApp(t, map[string]string{"host.json": `{"version": "2.0"}`,
		"A/function.json": `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "route": "x/{id}"}]}`,
		"B/function.json": `{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "route": "X/{other}", "methods": ["post"]}]}`})
	h, _ := extension.NewHost(hostOptions(nil, &testlog.Buffer{}))
	if err := h.LoadAppDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "B"} {
		h.Handle(n, extension.Action(func(context.Context, []byte) error { return nil }))
	}
	if err := h.Verify(context.Background()); err == nil || !strings.Contains(err.Error(), `is already the route of function`) {
		t.Errorf("duplicate routes: %v", err)
	}
}

// The host's body limit applies while the trigger buffers: 413 for a declared length over it
// (the server) and for a chunked body that runs past it (the trigger); the function never runs.
func TestBodyLimit(t *testing.T) {
	logs := &testlog.Buffer{}
	o := hostOptions(nil, logs)
	o.MaxRequestBodyBytes = 1024
	h, err := extension.NewHost(o)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	if err := h.Func("Up", extension.Func(func(_ context.Context, b []byte) (string, error) {
		calls.Add(1)
		return strconv.Itoa(len(b)), nil
	}), azhttp.Trigger("req", &azhttp.TriggerOptions{AuthLevel: azhttp.Anonymous}), azhttp.Output("$return")); err != nil {
		t.Fatal(err)
	}
	s := start(t, h, logs, "/api/Up")
	if r := s.do(t, "POST", "/api/Up", "application/octet-stream", strings.Repeat("x", 1024)); r.code != 200 || r.body != "1024" {
		t.Errorf("body at the limit = %d %q", r.code, r.body)
	}
	calls.Store(0)
	big := strings.Repeat("x", 4096)
	if r := s.do(t, "POST", "/api/Up", "application/octet-stream", big); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared length over the limit = %d; want 413", r.code)
	}
	req, _ := http.NewRequest("POST", s.base+"/api/Up", io.MultiReader(strings.NewReader(big))) // no length: chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength != 0 {
		t.Errorf("chunked body over the limit = %d (length %d); want 413", resp.StatusCode, req.ContentLength)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the function ran %d times for bodies over the limit", n)
	}
}

// authLevel function (the default) with Functions keys (internal/hostkeys, set here through the
// settings Functions reads on Kubernetes): the function's own key or a host key, in the
// x-functions-key header or the code query parameter; nothing else. The key is not binding data.
func TestFunctionLevelKeys(t *testing.T) {
	logs := &testlog.Buffer{}
	settings := map[string]string{
		"functions__keyed__default": "fn-key-of-keyed",
		"functions__other__default": "fn-key-of-other",
		"host__function__default":   "host-function-key",
		"host__master":              "the-master-key",
	}
	h, err := extension.NewHost(hostOptions(settings, logs))
	if err != nil {
		t.Fatal(err)
	}
	echo := extension.Func(func(ctx context.Context, r *http.Request) (string, error) {
		q, _ := extension.FromContext(ctx).BindingData("Query")
		code, hasCode := extension.FromContext(ctx).BindingData("code")
		return fmt.Sprintf("ok query=%v code=%v,%v", q, code, hasCode), nil
	})
	for _, name := range []string{"Keyed", "Other"} {
		if err := h.Func(name, echo, azhttp.Trigger("req", nil), azhttp.Output("$return")); err != nil {
			t.Fatal(err)
		}
	}
	s := start(t, h, logs, "/api/Keyed") // 401 is not 404: mounted
	for _, tc := range []struct {
		name, path string
		header     []string
		code       int
	}{
		{"no key", "/api/Keyed", nil, 401},
		{"function key in header", "/api/Keyed", []string{"x-functions-key", "fn-key-of-keyed"}, 200},
		{"function key in code", "/api/Keyed?code=fn-key-of-keyed&x=1", nil, 200},
		{"host key", "/api/Keyed?code=host-function-key", nil, 200},
		{"master key", "/api/Keyed", []string{"x-functions-key", "the-master-key"}, 200},
		{"another function's key", "/api/Keyed?code=fn-key-of-other", nil, 401},
		{"wrong key", "/api/Keyed", []string{"x-functions-key", "fn-key-of-keyed-not"}, 401},
		{"header wins over code", "/api/Keyed?code=fn-key-of-keyed", []string{"x-functions-key", "wrong"}, 401},
	} {
		r := s.do(t, "GET", tc.path, "", "", tc.header...)
		if r.code != tc.code {
			t.Errorf("%s: %d %q; want %d", tc.name, r.code, r.body, tc.code)
		}
		if r.code == 200 && (strings.Contains(r.body, "fn-key") || !strings.Contains(r.body, "code=<nil>,false")) {
			t.Errorf("%s: the key reached binding data: %q", tc.name, r.body)
		}
	}
	if strings.Contains(logs.String(), "fn-key-of-keyed") || strings.Contains(logs.String(), "the-master-key") {
		t.Error("a key was logged")
	}
}
