package extension_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// The host's router over a real loopback server: ASP.NET Core precedence, URL-decoded route
// values, 404 (never 405) for a method or constraint mismatch as Functions answers
// (reference http-timer-customhandler.md §2), unmount, and conflicts.
func TestRouterMatching(t *testing.T) {
	h, err := extension.NewHost(opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	rt := h.Services().Router
	mount := func(tmpl string, methods ...string) func() {
		t.Helper()
		un, err := rt.Mount(driver.Route{Template: tmpl, Methods: methods, Level: driver.AuthAnonymous,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v := driver.RouteValues(r)
				io.WriteString(w, tmpl+" "+v["id"]+v["rest"])
			})})
		if err != nil {
			t.Fatalf("Mount(%q): %v", tmpl, err)
		}
		return un
	}
	// Mounted least specific first: the order of mounting must not matter.
	mount("api/{*rest}")
	mount("api/items/{id}", "get")
	mount("api/items/{id:int}", "GET")
	unNew := mount("api/items/new")
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()

	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/api/items/new", 200, "api/items/new "},
		{"GET", "/API/Items/NEW", 200, "api/items/new "},
		{"GET", "/api/items/42", 200, "api/items/{id:int} 42"},
		{"GET", "/api/items/a%20b", 200, "api/items/{id} a b"},
		{"POST", "/api/items/42", 200, "api/{*rest} items/42"}, // method mismatch falls through to the catch-all
		{"GET", "/api/x/y", 200, "api/{*rest} x/y"},
		{"GET", "/other", 404, ""},
	} {
		code, body := get(tc.method, tc.path)
		if code != tc.code || tc.code == 200 && body != tc.body {
			t.Errorf("%s %s = %d %q; want %d %q", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}

	// Without the catch-all, a method mismatch is a 404 (Functions), not a 405.
	h2, _ := extension.NewHost(opts(nil))
	un, err := h2.Services().Router.Mount(driver.Route{Template: "api/items/{id:int}", Methods: []string{"GET"}, Level: driver.AuthAnonymous,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(h2.Handler())
	defer srv2.Close()
	for _, tc := range []struct {
		method, path string
		code         int
	}{{"GET", "/api/items/1", 200}, {"DELETE", "/api/items/1", 404}, {"GET", "/api/items/x", 404}} {
		req, _ := http.NewRequest(tc.method, srv2.URL+tc.path, nil)
		resp, err := srv2.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s = %d; want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
	}
	un()
	un() // idempotent

	unNew()
	if code, body := get("GET", "/api/items/new"); code != 200 || body != "api/items/{id} new" {
		t.Errorf("after unmount: %d %q", code, body)
	}

	// Equal templates (whatever the parameter names and case) with overlapping methods conflict.
	if _, err := rt.Mount(driver.Route{Template: "API/items/{x:INT}", Methods: []string{"get", "post"}, Handler: http.NotFoundHandler()}); !errors.Is(err, driver.ErrConflict) {
		t.Errorf("conflicting Mount = %v; want ErrConflict", err)
	}
	if _, err := rt.Mount(driver.Route{Template: "api/items/{x:int}", Methods: []string{"PUT"}, Handler: http.NotFoundHandler()}); err != nil {
		t.Errorf("Mount with other methods = %v", err)
	}
	if _, err := rt.Mount(driver.Route{Template: "api/{a}/{A}", Handler: http.NotFoundHandler()}); !errors.Is(err, driver.ErrInvalidConfig) || err == nil {
		t.Errorf("bad template Mount = %v; want ErrInvalidConfig", err)
	}
}
