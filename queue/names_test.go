package queue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/queue/queuetest"
)

// Queue names in bindings are lower-cased as WebJobs does (QueueTriggerAttributeBindingProvider,
// QueuesExtensionConfigProvider: "must be lowercase. coerce here to be nice"): a trigger on
// "ORDERS" reads "orders", and the README's queue.Output("$return", "shipped-{ID}") writes an
// order with ID "A1" to shipped-a1 instead of failing on an invalid name.
func TestQueueNamesLowerCased(t *testing.T) {
	env := queue.SharedEnv()
	in := env.NewQueue(t)
	outName := in + "-a1"
	env.Cleanup(t, outName)
	startHost(t, nil, nil, func(h *extension.Host) error {
		return h.Func("Ship", extension.Func(func(ctx context.Context, o struct{ ID string }) (string, error) {
			return "shipped " + o.ID, nil
		}), queue.Trigger("order", strings.ToUpper(in)), queue.Output("$return", strings.ToUpper(in)+"-{ID}"))
	})
	env.Send(t, in, []byte(`{"ID":"A1"}`))
	queuetest.WaitFor(t, 30*time.Second, "a message in "+outName, func() bool {
		got := env.PeekDecoded(t, outName)
		return len(got) == 1 && got[0] == "shipped A1"
	})
}

// A message that is not UTF-8 text does not bind to a string: the handler is not invoked and the
// message reaches the poison queue; a []byte handler receives the same bytes intact (azure-webjobs-sdk
// QueueTriggerTests.QueueTrigger_IfBoundToStringAndMessageIsNotUtf8ByteArray_DoesNotBind,
// QueueTrigger_IfBoundToByteArrayAndMessageIsNonUtf8_Binds, QueueTrigger_IfBindingAlwaysFails_MovesToPoisonQueue).
func TestNonUTF8MessageDoesNotBindToString(t *testing.T) {
	env := queue.SharedEnv()
	in := env.NewQueue(t)
	env.Cleanup(t, in+"-poison")
	invoked := make(chan string, 4)
	startHost(t, map[string]any{"maxDequeueCount": 1.0}, nil, func(h *extension.Host) error {
		return h.Func("Text", extension.Action(func(ctx context.Context, s string) error {
			invoked <- s
			return nil
		}), queue.Trigger("msg", in))
	})
	bad := []byte{'o', 'k', 0xff, 0xfe, '!'}
	env.Send(t, in, bad)
	env.Send(t, in, []byte("valid text"))
	select {
	case s := <-invoked:
		if s != "valid text" {
			t.Fatalf("handler got %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("valid message not delivered")
	}
	queuetest.WaitFor(t, 30*time.Second, "invalid message poisoned", func() bool { return len(env.Poison(t, in)) == 1 })
	select {
	case s := <-invoked:
		t.Fatalf("handler invoked with %q", s)
	default:
	}

	bin := env.NewQueue(t)
	got := make(chan []byte, 1)
	startHost(t, nil, nil, func(h *extension.Host) error {
		return h.Func("Bytes", extension.Action(func(ctx context.Context, b []byte) error {
			got <- b
			return nil
		}), queue.Trigger("msg", bin))
	})
	env.Send(t, bin, bad)
	select {
	case b := <-got:
		if string(b) != string(bad) {
			t.Errorf("[]byte handler got %q", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("binary message not delivered")
	}
}

func TestTextBindErrorText(t *testing.T) {
	err := queue.TextBindError("m1", []byte{0xFF, 0x00})
	if want := "Unable to translate bytes [FF] at index 0 from specified code page to Unicode"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if err := queue.TextBindError("m1", []byte("ok\xfe")); !strings.Contains(err.Error(), "[FE] at index 2") {
		t.Errorf("error %q", err)
	}
}
