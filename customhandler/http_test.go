package customhandler_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/customhandler"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/testlog"
)

// httpHost runs the echo handler behind a host serving HTTP on a loopback port.
func httpHost(t *testing.T, extra string, declare func(h *extension.Host)) (string, *testlog.Buffer) {
	t.Helper()
	dir := app(t, extra)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	settings := connection.NewSettings()
	cfg, err := customhandler.LoadConfig(dir, settings)
	if err != nil {
		t.Fatal(err)
	}
	w, err := customhandler.Start(context.Background(), customhandler.Options{AppDir: dir, Config: cfg, Settings: settings, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: logger, HostID: "customhandler-http", HTTPAddr: "127.0.0.1:0", DefaultHandler: w.Handler()})
	if err != nil {
		t.Fatal(err)
	}
	declare(h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for h.Addr() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("host not listening\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "http://" + h.Addr(), logs
}

func httpFunc(route string, outs ...*extension.BindingSpec) []*extension.BindingSpec {
	return append([]*extension.BindingSpec{
		extension.Binding("httpTrigger", "req", extension.DirIn, extension.Props{"authLevel": "anonymous", "route": route}),
		extension.Binding("http", "res", extension.DirOut, nil)}, outs...)
}

// The HTTP trigger's Data is Functions' request object {Url, Method, Query, Headers, Params,
// Identities, Body} and the http output's {statusCode (a numeric string), headers, body} is the
// reply (HttpRequestExtensions.GetRequestAsJObject, HttpOutputBindingResponse).
func TestHTTPTriggerObject(t *testing.T) {
	base, _ := httpHost(t, "", func(h *extension.Host) {
		if err := h.Func("HttpEcho", extension.Handler{}, httpFunc("items/{id:int}")...); err != nil {
			t.Fatal(err)
		}
	})
	resp, err := http.Post(base+"/api/items/42?a=1&a=2", "application/json", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("X-Test") != "1" {
		t.Fatalf("reply %d %v %s", resp.StatusCode, resp.Header, b)
	}
	var inv struct {
		Data struct {
			Req struct {
				Url, Method string
				Query       map[string]string
				Headers     map[string][]string
				Params      map[string]string
				Identities  []any
				Body        string
			} `json:"req"`
		}
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &inv); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	r := inv.Data.Req
	if r.Method != "POST" || !strings.HasSuffix(r.Url, "/api/items/42?a=1&a=2") || r.Query["a"] != "1,2" || r.Params["id"] != "42" ||
		r.Identities == nil || r.Body != `{"x":1}` || r.Headers["Content-Type"][0] != "application/json" {
		t.Errorf("request object: %+v", r)
	}
	if s := string(inv.Metadata["id"]); s != `"\"42\""` {
		t.Errorf(`Metadata.id = %s, want "\"42\"" (a route value, a string JSON-encoded)`, s)
	}
	if q := string(inv.Metadata["Query"]); !strings.HasPrefix(q, "{") {
		t.Errorf("Metadata.Query = %s, want an object", q)
	}
}

// enableForwardingHttpRequest: an HTTP function with only HTTP outputs is forwarded on its
// original path and query, and the handler's answer — a 418 here — is the reply, verbatim.
func TestForwarding(t *testing.T) {
	base, _ := httpHost(t, `,"enableForwardingHttpRequest":true`, func(h *extension.Host) {
		if err := h.Func("Fwd", extension.Handler{}, httpFunc("fwd/{id}")...); err != nil {
			t.Fatal(err)
		}
	})
	req, _ := http.NewRequest(http.MethodPut, base+"/api/fwd/7?q=1", strings.NewReader("payload"))
	req.Header.Set("X-In", "abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Fwd") != "abc" || string(b) != "forwarded PUT /api/fwd/7?q=1 payload" {
		t.Errorf("reply %d %v %q", resp.StatusCode, resp.Header, b)
	}
}

// A forwarded request the handler fails (here: it drops the connection) is a 500 without the
// error's text, and the failure logged does not carry the request's query: its `code` is a key.
func TestForwardingFailureHidesKey(t *testing.T) {
	base, logs := httpHost(t, `,"enableForwardingHttpRequest":true`, func(h *extension.Host) {
		if err := h.Func("Drop", extension.Handler{}, httpFunc("drop")...); err != nil {
			t.Fatal(err)
		}
	})
	const key = "SecretKeyValue0123456789abcdefghijklmnopqrstuv=="
	resp, err := http.Post(base+"/api/drop?code="+key, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || len(b) != 0 {
		t.Errorf("reply %d %q; want 500 with no body", resp.StatusCode, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "forwarding the request to the custom handler failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logs.String(), key) {
		t.Errorf("the key in the request's code parameter reached the log:\n%s", logs)
	}
}

// A forwarded answer over the bound is not buffered whole nor cut short: the invocation fails
// (500) and the log says why.
func TestForwardingAnswerBounded(t *testing.T) {
	t.Cleanup(customhandler.SetMaxAnswer(1 << 20))
	base, logs := httpHost(t, `,"enableForwardingHttpRequest":true`, func(h *extension.Host) {
		if err := h.Func("Huge", extension.Handler{}, httpFunc("huge")...); err != nil {
			t.Fatal(err)
		}
	})
	resp, err := http.Get(base + "/api/huge")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || n != 0 {
		t.Errorf("reply %d with %d bytes; want 500 (the handler answered 8 MiB, over the 1 MiB bound)", resp.StatusCode, n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "over the limit of 1048576 bytes") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure naming the limit logged\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
