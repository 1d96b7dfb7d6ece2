package azhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azbind/azbind/azhttp"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testlog"
)

// A host with an httpTrigger and an http output, started and stopped three times, leaves no
// goroutine and no shared value behind, and its route is unmounted after Run returned.
func TestHostLeavesNothingBehind(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop")}
	for range 3 {
		logs := &testlog.Buffer{}
		o := hostOptions(nil, logs)
		o.HTTPAddr = ""
		h, err := extension.NewHost(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Func("Echo", extension.Func(func(_ context.Context, s string) (string, error) { return s, nil }),
			azhttp.Trigger("req", &azhttp.TriggerOptions{AuthLevel: azhttp.Anonymous}), azhttp.Output("$return")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		srv := httptest.NewServer(h.Handler())
		s := &served{Host: h, base: srv.URL, logs: logs}
		waitServed(t, s, "/api/Echo")
		if r := s.do(t, "POST", "/api/Echo", "text/plain", "hi"); r.code != 200 || r.body != "hi" {
			t.Fatalf("POST = %d %q", r.code, r.body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if r := s.do(t, "POST", "/api/Echo", "text/plain", "hi"); r.code == 200 {
			t.Errorf("after Run returned: %d %q; the function still answers", r.code, r.body)
		}
		// Unmounted: the same route mounts again without a conflict.
		un, err := h.Services().Router.Mount(driver.Route{Template: "api/Echo", Level: azhttp.Anonymous, Handler: http.NotFoundHandler()})
		if err != nil {
			t.Errorf("the trigger's route is still mounted after Run returned: %v", err)
		} else {
			un()
		}
		if n := h.Services().SharedCount(); n != 0 {
			t.Fatalf("%d shared values left after stop", n)
		}
		srv.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	if err := goleak.Find(opts...); err != nil {
		t.Fatal(err)
	}
}

// Drain: once the host stops, a request in flight finishes with its reply; new ones get 503
// until the route is unmounted.
func TestDrainFinishesInFlight(t *testing.T) {
	logs := &testlog.Buffer{}
	h, err := extension.NewHost(hostOptions(nil, logs))
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	if err := h.Func("Slow", extension.Func(func(_ context.Context, s string) (string, error) {
		if s == "slow" {
			once.Do(func() { close(entered) })
			<-release
		}
		return "done " + s, nil
	}), azhttp.Trigger("req", &azhttp.TriggerOptions{AuthLevel: azhttp.Anonymous}), azhttp.Output("$return")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	s := &served{Host: h, logs: logs}
	for s.base == "" {
		if a := h.Addr(); a != "" {
			s.base = "http://" + a
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitServed(t, s, "/api/Slow")
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post(s.base+"/api/Slow", "text/plain", strings.NewReader("slow"))
		if err != nil {
			got <- result{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-entered
	cancel()
	// New requests are refused (503) or, once the server closed its listener, not accepted.
	for {
		resp, err := http.Post(s.base+"/api/Slow", "text/plain", strings.NewReader("fast"))
		if err != nil {
			break
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if resp.StatusCode == 200 {
			time.Sleep(5 * time.Millisecond)
			continue // the cancellation has not reached the trigger yet
		}
		t.Fatalf("new request while draining = %d; want 503", resp.StatusCode)
	}
	close(release)
	if r := <-got; r.code != 200 || r.body != "done slow" {
		t.Errorf("in-flight request = %d %q; want 200 \"done slow\"", r.code, r.body)
	}
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
}
