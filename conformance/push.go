package conformance

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
)

// Push: an HTTP request in, a status code out. A push whose invocation succeeds is answered with
// a 2xx, one whose invocation fails with a 5xx; once the host has begun to drain, a new push is
// refused with 503 and not run, while the push already running completes and is answered 2xx.
func testPush(t *testing.T, e *env) {
	src, ok := e.newSource().(PushSource)
	if !ok {
		t.Fatalf("harness %T declares Push but its sources are not PushSources", e.h)
	}
	ok0, fail, slow, late := payload(t, 0), payload(t, 1), payload(t, 2), payload(t, 3)
	var rec recorder
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	hh := e.start("push", extension.Action(func(ctx context.Context, b []byte) error {
		b = e.sent(b)
		rec.add(b, nil)
		switch {
		case bytes.Equal(b, fail):
			return errInjected
		case bytes.Equal(b, slow):
			started <- struct{}{}
			<-release
		}
		return nil
	}), e.hostOptions(), src.Trigger("item"))
	post := func(p []byte) (int, error) {
		req, err := src.Request(e.ctx, hh.url, "push", p)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// The function may not be reachable yet right after the host starts: a service retries.
	var code int
	e.eventually("a push answered 2xx", func() (bool, error) {
		var err error
		code, err = post(ok0)
		return code/100 == 2, err
	})
	if c := rec.count(ok0); c != 1 {
		t.Errorf("the accepted push ran %d time(s), want 1", c)
	}
	if code, err := post(fail); err != nil || code/100 != 5 {
		t.Errorf("a push whose invocation failed was answered %d (%v), want 5xx", code, err)
	}

	slowCode := make(chan int, 1)
	go func() {
		c, err := post(slow)
		if err != nil {
			t.Errorf("push during the drain: %v", err)
		}
		slowCode <- c
	}()
	select {
	case <-started:
	case <-time.After(e.wait):
		t.Fatal("the slow push did not run")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- e.shutdown(hh) }()
	select {
	case <-hh.h.Draining():
	case <-time.After(e.wait):
		t.Fatal("host did not begin to stop")
	}
	if code, err := post(late); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("a push after the drain began was answered %d (%v), want 503", code, err)
	}
	close(release)
	if c := <-slowCode; c/100 != 2 {
		t.Errorf("the push running when the drain began was answered %d, want 2xx", c)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	if c := rec.count(late); c != 0 {
		t.Errorf("a push refused during the drain ran %d time(s)", c)
	}
	if n := rec.len(); n != 3 {
		t.Errorf("%d invocations, want 3 (accepted, failed, running at the drain)", n)
	}
}
