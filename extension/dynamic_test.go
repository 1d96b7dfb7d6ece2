package extension_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
	"github.com/azbind/azbind/internal/testlog"
)

// A Dynamic handler receives the trigger, its binding data and the inputs by binding name, and
// its outputs by name reach the sinks as they are (a json.RawMessage passes through; a []any
// writes one item per element) (design review §6 problem 4).
func TestDynamicHandler(t *testing.T) {
	name, q := newQueue(t)
	memconn.Default.Put(name+"-k", []byte("input value"))
	var mu sync.Mutex
	var got *extension.DynamicInvocation
	run(t, opts(nil), "dyn",
		extension.Dynamic(func(ctx context.Context, inv *extension.DynamicInvocation) (extension.Outputs, error) {
			mu.Lock()
			got = inv
			mu.Unlock()
			b, err := inv.Bytes()
			if err != nil {
				return nil, err
			}
			return extension.Outputs{
				"$return": json.RawMessage(`{"echo":` + string(b) + `}`),
				"Many":    []any{"a", nil, []byte("b")},
				"none":    nil,
			}, nil
		}),
		trig(name), in("config", name+"-k"), out("$return", name+"-ret"), out("many", name+"-many"), out("none", name+"-none"))
	q.Send([]byte(`{"id":"1"}`))
	waitFor(t, "acknowledged", func() bool { return len(q.Acked()) == 1 })

	mu.Lock()
	defer mu.Unlock()
	if got.Function != "dyn" || got.TriggerBinding.Name != "item" || len(got.Bindings) != 5 {
		t.Errorf("function %q, trigger %q, %d bindings", got.Function, got.TriggerBinding.Name, len(got.Bindings))
	}
	if string(got.Inputs["config"].([]byte)) != "input value" {
		t.Errorf("Inputs = %v", got.Inputs)
	}
	if got.Metadata["QueueName"] != name || got.Metadata["DeliveryCount"] != 1 || got.Metadata["Id"] == nil {
		t.Errorf("Metadata = %v", got.Metadata)
	}
	if _, ok := got.Metadata["*"]; ok {
		t.Error("the contract's * is no metadata name")
	}
	if r := memconn.Default.Queue(name + "-ret").Drain(); len(r) != 1 || string(r[0]) != `{"echo":{"id":"1"}}` {
		t.Errorf("$return = %q", r)
	}
	if r := memconn.Default.Queue(name + "-many").Drain(); fmt.Sprintf("%q", r) != `["a" "b"]` {
		t.Errorf("many = %q", r)
	}
	if r := memconn.Default.Queue(name + "-none").Drain(); len(r) != 0 {
		t.Errorf("none = %q", r)
	}
}

// An output name the function does not declare fails the invocation before anything is written;
// a handler error fails it too (then the trigger's failure path: here dead-lettering).
func TestDynamicHandlerFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		outs extension.Outputs
		err  error
		want string
	}{
		{"unknown output", extension.Outputs{"ok": "x", "nope": "y"}, nil, `returned output \"nope\" but the function declares no out binding of that name (out bindings: \"ok\")`},
		{"handler error", extension.Outputs{"ok": "x"}, errors.New("boom"), "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, q := newQueue(t)
			o := opts(nil)
			logs := &testlog.Buffer{}
			o.Logger = slog.New(slog.NewTextHandler(logs, nil))
			o.HostConfig = &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}}
			run(t, o, "dynfail",
				extension.Dynamic(func(ctx context.Context, inv *extension.DynamicInvocation) (extension.Outputs, error) {
					return tc.outs, tc.err
				}),
				trig(name), out("ok", name+"-ok"))
			q.Send([]byte(`x`))
			waitFor(t, "dead-lettered", func() bool { return len(q.Dead()) == 1 })
			if r := memconn.Default.Queue(name + "-ok").Drain(); len(r) != 0 {
				t.Errorf("a failed invocation wrote %q", r)
			}
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, logs.String())
			}
		})
	}
}

// HostOptions.DefaultHandler runs the functions that have no handler of their own; a function
// with its own handler keeps it.
func TestDefaultHandler(t *testing.T) {
	a, qa := newQueue(t)
	b, qb := newQueue(t)
	o := opts(nil)
	var mu sync.Mutex
	seen := map[string]int{}
	o.DefaultHandler = extension.Dynamic(func(ctx context.Context, inv *extension.DynamicInvocation) (extension.Outputs, error) {
		mu.Lock()
		seen[inv.Function]++
		mu.Unlock()
		return nil, nil
	})
	host, err := extension.NewHost(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Func("viaDefault", extension.Handler{}, trig(a)); err != nil {
		t.Fatal(err)
	}
	own := make(chan string, 1)
	if err := host.Func("own", extension.Action(func(ctx context.Context, s string) error { own <- s; return nil }), trig(b)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	defer func() { cancel(); <-done }()
	qa.Send([]byte("1"))
	qb.Send([]byte("2"))
	waitFor(t, "both acknowledged", func() bool { return len(qa.Acked()) == 1 && len(qb.Acked()) == 1 })
	if s := <-own; s != "2" {
		t.Errorf("own handler got %q", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "map[viaDefault:1]" {
		t.Errorf("default handler ran for %v", seen)
	}
}

// Without a DefaultHandler, a function without a handler is a configuration error that names
// both fixes.
func TestNoHandlerNoDefault(t *testing.T) {
	a, _ := newQueue(t)
	err := buildErr(t, opts(nil), "orphan", extension.Handler{}, trig(a))
	if !strings.Contains(err.Error(), "HostOptions.DefaultHandler") || !errors.Is(err, extension.ErrInvalidConfig) {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkInvokeDynamic is BenchmarkInvoke through a Dynamic handler (the DynamicInvocation,
// its metadata map and the Outputs map are the extra allocations).
func BenchmarkInvokeDynamic(b *testing.B) {
	exec, ev := extension.BenchDynamicExecutor(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := exec.Execute(ctx, ev); r.Status != driver.Succeeded {
			b.Fatal(r.Err)
		}
	}
}
