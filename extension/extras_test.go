package extension_test

import (
	"context"
	"errors"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/memconn"
)

// A trigger's Extras reach the handler by type — as a parameter in any position (without taking a
// binding's position), as an untagged bindings-struct field, or as an interface the value
// implements — and the trigger does not settle again what the handler settled.
func TestTriggerExtras(t *testing.T) {
	t.Run("ReflectParameter", func(t *testing.T) {
		name, q := newQueue(t)
		memconn.Default.Put("extras-key", []byte("input-value"))
		run(t, opts(nil), "extras", extension.Reflect(func(ctx context.Context, a *memconn.Actions, b []byte, in string) error {
			if in != "input-value" {
				t.Errorf("input = %q: an Extras parameter shifted the bindings' positions", in)
			}
			return a.DeadLetter(ctx, "handler says: "+string(b))
		}), trig(name), in("in", "extras-key"))
		q.Send([]byte("x"))
		waitFor(t, "dead-lettered", func() bool { return len(q.DeadLetters()) == 1 })
		if d := q.DeadLetters()[0]; d.Reason != "handler says: x" {
			t.Errorf("reason = %q", d.Reason)
		}
		if q.Pending() != 0 || len(q.Acked()) != 0 {
			t.Errorf("pending %d, completed %d: the trigger settled a message the handler had settled", q.Pending(), len(q.Acked()))
		}
	})
	t.Run("StructField", func(t *testing.T) {
		name, q := newQueue(t)
		type args struct {
			Item    string `azbind:"item"`
			Actions *memconn.Actions
		}
		run(t, opts(nil), "extras", extension.Action(func(ctx context.Context, a args) error {
			if a.Actions == nil {
				t.Error("bindings-struct field of an Extras type not filled")
				return nil
			}
			if err := a.Actions.Defer(ctx); err != nil {
				return err
			}
			return errors.New("boom") // a failure after the handler settled: the message stays deferred
		}), trig(name))
		q.Send([]byte("x"))
		waitFor(t, "deferred", func() bool { return len(q.Deferred()) == 1 && q.Pending() == 0 })
		if len(q.Acked())+len(q.Dead()) != 0 {
			t.Error("the trigger settled a deferred message again")
		}
	})
	t.Run("Interface", func(t *testing.T) {
		name, q := newQueue(t)
		type completer interface{ Complete(context.Context) error }
		run(t, opts(nil), "extras", extension.Reflect(func(ctx context.Context, s string, c completer) error {
			if c == nil {
				t.Error("interface parameter implemented by an Extras type not filled")
				return nil
			}
			return c.Complete(ctx)
		}), trig(name))
		q.Send([]byte("x"))
		waitFor(t, "completed", func() bool { return len(q.Acked()) == 1 && q.Pending() == 0 })
	})
	t.Run("OnlyForItsTrigger", func(t *testing.T) {
		// memPushTrigger offers no Extras: *Actions is an ordinary parameter there, with no binding.
		h, err := extension.NewHost(opts(nil))
		if err != nil {
			t.Fatal(err)
		}
		err = h.Func("push", extension.Reflect(func(ctx context.Context, b []byte, a *memconn.Actions) error { return nil }),
			extension.Binding("memPushTrigger", "item", extension.DirIn, nil))
		if err == nil {
			err = h.Verify(context.Background())
		}
		if err == nil {
			t.Error("a *memconn.Actions parameter was accepted on a trigger that does not offer it")
		}
	})
}
