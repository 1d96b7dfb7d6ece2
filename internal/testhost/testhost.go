// Package testhost is the connectors' test support for hosts: full host services for a unit
// test that calls a factory outside a running host (Services); a real host run in the background
// and stopped when the test ends (Start, Run); and the two halves of a kill test, a child process
// whose host hangs mid-handler until the parent kills it (Hang, RunHelper, StartKillHelper).
package testhost

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/subproc"
)

// Services returns the host services a connector gets inside the runtime (every field set:
// Logger, Clock, Meter, Settings, Connections, Storage, Router, Mux), built by
// extension.NewHost(opts).Services() and closed when the test ends. A nil opts.Logger discards;
// nil opts.Settings are empty (not the environment); opts.HostID is copied to Services.HostID;
// a nil opts.Storage is memory the host fell back to (StorageVolatile, as a host without
// AzureWebJobsStorage has): give extension.NewMemoryStorage() for storage that counts as durable.
// For a unit test that calls a factory outside a running host: the driver's rule is that no
// connector checks these for nil.
func Services(t testing.TB, opts extension.HostOptions) *driver.Services {
	t.Helper()
	s, err := NewServices(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NewServices is Services for a helper process (no testing.TB); the caller closes them.
func NewServices(opts extension.HostOptions) (*driver.Services, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Settings == nil {
		opts.Settings = connection.NewSettings()
	}
	h, err := extension.NewHost(opts)
	if err != nil {
		return nil, err
	}
	s := h.Services()
	s.HostID = opts.HostID
	s.StorageVolatile = opts.Storage == nil
	return s, nil
}

// RunOptions configure Run. The zero value waits 60 s for a stop and reports nothing else.
type RunOptions struct {
	// StopWait bounds how long Stop waits for Run to return (default 60 s).
	StopWait time.Duration
	// Logs, when set, is what the host logged (an internal/testlog.Buffer): it is written to the
	// test log when the test failed, and it must not contain any of Secrets.
	Logs fmt.Stringer
	// Secrets must never appear in Logs (checked when the test ends).
	Secrets []string
}

// Running is a host that Run runs in the background.
type Running struct {
	Host *extension.Host

	t      testing.TB
	o      RunOptions
	cancel context.CancelFunc
	exited chan struct{} // closed when Run returned (err is then set)
	err    error
	once   sync.Once
}

// Run runs h in the background until Stop or the end of the test, when Run's error fails the test.
func Run(t testing.TB, h *extension.Host, o RunOptions) *Running {
	t.Helper()
	if o.StopWait <= 0 {
		o.StopWait = 60 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Host: h, t: t, o: o, cancel: cancel, exited: make(chan struct{})}
	go func() {
		r.err = h.Run(ctx)
		close(r.exited)
	}()
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("host Run: %v", err)
		}
		if o.Logs == nil {
			return
		}
		logs := o.Logs.String()
		if t.Failed() {
			t.Logf("host logs:\n%s", logs)
		}
		for _, s := range o.Secrets {
			if s != "" && strings.Contains(logs, s) {
				t.Errorf("a secret appears in the host's logs")
			}
		}
	})
	return r
}

// Start is NewHost(opts), declare (the test's functions), then Run.
func Start(t testing.TB, opts extension.HostOptions, o RunOptions, declare func(h *extension.Host) error) *Running {
	t.Helper()
	h, err := extension.NewHost(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := declare(h); err != nil {
		t.Fatal(err)
	}
	return Run(t, h, o)
}

// Stop cancels the host and waits (at most RunOptions.StopWait) for Run to return, returning its
// error. It may be called more than once.
func (r *Running) Stop() error {
	r.once.Do(func() {
		r.cancel()
		select {
		case <-r.exited:
		case <-time.After(r.o.StopWait):
			r.t.Errorf("host did not stop within %v", r.o.StopWait)
		}
	})
	select {
	case <-r.exited:
		return r.err
	default:
		return nil
	}
}

// Exited is closed when Run has returned (by Stop, or on its own: Err then says why).
func (r *Running) Exited() <-chan struct{} { return r.exited }

// Err is Run's error once Exited is closed (nil before).
func (r *Running) Err() error {
	select {
	case <-r.exited:
		return r.err
	default:
		return nil
	}
}

// Kill tests: the test binary runs again as a child process (internal/subproc) holding a host
// whose handler announces an item and hangs; the parent waits for the announcement, kills the
// child with SIGKILL mid-handler, and proves that nothing was lost.

// Hang is a kill helper's handler body: it prints "started <what>" and blocks until the process
// is killed.
func Hang(what ...any) {
	fmt.Println(append([]any{"started"}, what...)...)
	select {}
}

// HelperConfig decodes the JSON configuration the parent passed in the environment variable name.
func HelperConfig(name string, v any) error {
	return json.Unmarshal([]byte(os.Getenv(name)), v)
}

// RunHelper is the body of a kill helper's TestMain branch: it runs h until the process is
// killed, printing "error <err>" and returning 1 if the host cannot start (err is the error of
// building h, for one-line use).
func RunHelper(h *extension.Host, err error) int {
	if err == nil {
		err = h.Run(context.Background())
	}
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// StartKillHelper starts the kill helper (subproc.Start with name=value), waits at most wait for
// the line its handler prints when it starts (Hang: "started …"), and returns the child and that
// line. A line that says something else, or no line in time, kills the child and fails the test.
// The parent calls child.Kill() when it wants the host dead.
func StartKillHelper(t testing.TB, name, value string, wait time.Duration) (*subproc.Child, string) {
	t.Helper()
	child := subproc.Start(t, name, value)
	for deadline := time.After(wait); ; {
		select {
		case line, ok := <-child.Lines:
			switch {
			case !ok:
				child.Kill()
				t.Fatal("the kill helper exited before it started handling")
			case strings.HasPrefix(line, "started"):
				return child, line
			case strings.HasPrefix(line, "error"):
				child.Kill()
				t.Fatalf("the kill helper: %s", line)
			}
		case <-deadline:
			child.Kill()
			t.Fatalf("the kill helper did not start handling within %v", wait)
		}
	}
}
