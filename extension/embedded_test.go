package extension_test

import (
	"context"
	"strings"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/memconn"
)

type EmbeddedIn struct {
	Customer string `azbind:"customer"`
}

type embeddedParams struct {
	*EmbeddedIn
	Item string `azbind:"item"`
}

type EmbeddedOut struct {
	Copy string `azbind:"copy"`
}

type embeddedResult struct {
	*EmbeddedOut
}

// Bindings structs may embed a pointer to a struct of tagged fields (reflect.VisibleFields
// promotes them): parameters are filled through a freshly allocated embedded value, and a nil
// embedded pointer in a result writes nothing — neither may panic and fail every invocation.
func TestEmbeddedPointerBindingsStructs(t *testing.T) {
	name, q := newQueue(t)
	outName, outQ := newQueue(t)
	memconn.Default.Put("embedded-cust", []byte("alice"))
	var got embeddedParams
	o := opts(nil)
	o.HostConfig = &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}}
	run(t, o, "embedded", extension.Reflect(func(ctx context.Context, p embeddedParams) (embeddedResult, error) {
		got = p
		if p.Item == "skip" {
			return embeddedResult{}, nil
		}
		return embeddedResult{&EmbeddedOut{Copy: p.Item + ":" + p.Customer}}, nil
	}), trig(name), in("customer", "embedded-cust"), out("copy", outName))
	q.Send([]byte("skip"))
	waitFor(t, "first item settled", func() bool { return len(q.Acked())+len(q.Dead()) == 1 && q.Pending() == 0 })
	if len(q.Acked()) != 1 {
		t.Fatalf("a nil embedded result pointer failed the invocation (acked %d, dead %d)", len(q.Acked()), len(q.Dead()))
	}
	q.Send([]byte("x"))
	waitFor(t, "second item acknowledged", func() bool { return len(q.Acked()) == 2 })
	if got.EmbeddedIn == nil || got.Customer != "alice" {
		t.Errorf("embedded input field not filled: %+v", got)
	}
	if o := outQ.Peek(); len(o) != 1 || string(o[0]) != "x:alice" {
		t.Errorf("output = %q, want [x:alice]", o)
	}
}

type hiddenIn struct {
	Customer string `azbind:"customer"`
}

// An unexported embedded pointer cannot be allocated by reflection: a load-time error naming it.
func TestUnexportedEmbeddedPointerParamFailsAtLoad(t *testing.T) {
	name, _ := newQueue(t)
	err := buildErr(t, opts(nil), "hidden", extension.Reflect(func(ctx context.Context, p struct {
		*hiddenIn
		Item string `azbind:"item"`
	}) error {
		return nil
	}), trig(name), in("customer", "k"))
	if !strings.Contains(err.Error(), "hiddenIn") {
		t.Errorf("err = %v, want it to name the embedded field hiddenIn", err)
	}
}
