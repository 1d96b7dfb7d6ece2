package extension_test

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/azbind/azbind/extension"
)

// Every attempt logs Functions' Executing / Executed lines at Information (issue 25), with the
// invocation id and a duration, and a failed one says Failed at ERROR.
func TestExecutingExecutedLines(t *testing.T) {
	name, q := newQueue(t)
	var mu sync.Mutex
	var buf strings.Builder
	o := opts(nil)
	o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)) // Information
	calls := make(chan string, 2)
	run(t, o, "Ship", extension.Action(func(ctx context.Context, s string) error {
		select {
		case calls <- s:
		default: // redeliveries of "bad"
		}
		if s == "bad" {
			return errors.New("boom")
		}
		return nil
	}), trig(name))
	q.Send([]byte("ok"))
	<-calls
	q.Send([]byte("bad"))
	<-calls
	text := func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
	waitFor(t, "the Executed lines", func() bool { return strings.Count(text(), "Executed 'Functions.Ship'") >= 2 })
	out := text()
	for _, re := range []string{
		`level=INFO msg="Executing 'Functions.Ship' \(Reason='memTrigger', Id=[0-9a-f-]{36}\)"`,
		`level=INFO msg="Executed 'Functions.Ship' \(Succeeded, Id=[0-9a-f-]{36}, Duration=\d+ms\)"`,
		`level=ERROR msg="Executed 'Functions.Ship' \(Failed, Id=[0-9a-f-]{36}, Duration=\d+ms\): invocation failed" .*error=boom`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("log lacks %s:\n%s", re, out)
		}
	}
}

// With no HostOptions.Logger (and no slog default of the program's own), host.json
// logging.logLevel is honoured: "Debug" for a function makes its debug lines appear (issue 25:
// the stock default logger dropped them whatever host.json said).
func TestDefaultLoggerHonoursHostJSONLevels(t *testing.T) {
	name, q := newQueue(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	o := opts(nil)
	o.Logger = nil
	o.HostConfig = &extension.HostConfig{LogLevels: map[string]string{"Function.Loud": "Debug", "Function.Quiet": "Warning"}}
	h, err := extension.NewHost(o)
	os.Stderr = old
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	done := make(chan struct{}, 2)
	_ = h.Func("Loud", extension.Action(func(ctx context.Context, s string) error {
		extension.FromContext(ctx).Logger().Debug("loud-debug-line")
		done <- struct{}{}
		return nil
	}), trig(name))
	name2, q2 := newQueue(t)
	_ = h.Func("Quiet", extension.Action(func(ctx context.Context, s string) error {
		extension.FromContext(ctx).Logger().Info("quiet-info-line")
		done <- struct{}{}
		return nil
	}), trig(name2))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.Run(ctx) }()
	q.Send([]byte("x"))
	q2.Send([]byte("y"))
	<-done
	<-done
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	w.Close() // everything the host logged is in the pipe now
	var seen []string
	found := false
	for l := range lines {
		seen = append(seen, l)
		if strings.Contains(l, "quiet-info-line") {
			t.Errorf("Function.Quiet at Warning logged an Information line: %s", l)
		}
		if strings.Contains(l, "loud-debug-line") {
			found = true
		}
	}
	if !found {
		t.Fatalf("debug line of Function.Loud missing; got:\n%s", strings.Join(seen, "\n"))
	}
}

// An `any` parameter gets one shape whatever the connector delivers (issue 25): JSON decoded,
// other text as a string, other bytes as []byte.
func TestAnyParameterOneRule(t *testing.T) {
	name, q := newQueue(t)
	got := make(chan any, 3)
	run(t, opts(nil), "anyparam", extension.Action(func(ctx context.Context, v any) error { got <- v; return nil }), trig(name))
	q.Send([]byte(`{"id":"a1","n":2}`))
	if v, ok := (<-got).(map[string]any); !ok || v["id"] != "a1" || v["n"] != 2.0 {
		t.Errorf("JSON payload = %#v, want the decoded object", v)
	}
	q.Send([]byte("plain text"))
	if v := <-got; v != "plain text" {
		t.Errorf("text payload = %#v, want the string", v)
	}
	q.Send([]byte{0xff, 0xfe, 0x01})
	if v, ok := (<-got).([]byte); !ok || len(v) != 3 {
		t.Errorf("binary payload = %#v, want the bytes", v)
	}
}
