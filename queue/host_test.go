package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/queue/queuetest"
)

// These tests run the connector through the real runtime (extension.NewHost).

type order struct {
	OrderID string `json:"orderId"`
	Qty     int    `json:"qty"`
}

type shipment struct {
	OrderID string `json:"orderId"`
	Items   int    `json:"items"`
}

// extraSettings are added to the app settings of hosts started by startHost.
var extraSettings = map[string]string{}

func startHost(t *testing.T, cfg map[string]any, retry *extension.RetryPolicy, declare func(h *extension.Host) error) (stop func() error) {
	t.Helper()
	if cfg == nil {
		cfg = map[string]any{}
	}
	if _, ok := cfg["maxPollingInterval"]; !ok {
		cfg["maxPollingInterval"] = "00:00:00.2"
	}
	kv := map[string]string{"AzureWebJobsStorage": queue.ConnString()}
	for k, v := range extraSettings {
		kv[k] = v
	}
	settings := connection.NewSettings(connection.FromMap("test", kv))
	return testhost.Start(t, extension.HostOptions{
		Settings:        settings,
		Connections:     queue.Resolver{},
		Logger:          slog.New(slog.DiscardHandler),
		HostConfig:      &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"queues": cfg}, Retry: retry},
		ShutdownTimeout: 10 * time.Second,
		HostID:          "queuetest",
	}, testhost.RunOptions{StopWait: 30 * time.Second}, declare).Stop
}

func TestHostQueueToQueueWithExpressions(t *testing.T) { // %setting% queue names; output with {payload} and {metadata} names; JSON in and out
	env := queue.SharedEnv()
	in := env.NewQueue(t)
	outName := fmt.Sprintf("%s-o7-1", in)
	env.Cleanup(t, outName)
	extraSettings["ShipInQueue"] = in
	t.Cleanup(func() { delete(extraSettings, "ShipInQueue") })
	startHost(t, nil, nil, func(h *extension.Host) error {
		return h.Func("Ship", extension.Func(func(ctx context.Context, o order) (shipment, error) {
			return shipment{OrderID: o.OrderID, Items: o.Qty * 2}, nil
		}), queue.Trigger("order", "%ShipInQueue%"), queue.Output("$return", "%ShipInQueue%-{orderId}-{DequeueCount}"))
	})
	env.Send(t, in, []byte(`{"orderId":"o7","qty":3}`))
	var got []string
	queuetest.WaitFor(t, 30*time.Second, "shipment in "+outName, func() bool {
		got = env.PeekDecoded(t, outName)
		return len(got) == 1
	})
	var s shipment
	if err := json.Unmarshal([]byte(got[0]), &s); err != nil || s != (shipment{"o7", 6}) {
		t.Errorf("shipment = %q (%v)", got[0], err)
	}
	queuetest.WaitFor(t, 30*time.Second, "input deleted", func() bool { return env.Count(t, in) == 0 })
}

func TestHostMessageParamAndClientInput(t *testing.T) {
	env := queue.SharedEnv()
	in := env.NewQueue(t)
	side := env.NewQueue(t)
	var got atomic.Pointer[queue.Message]
	startHost(t, nil, nil, func(h *extension.Host) error {
		return h.Func("Inspect", extension.Reflect(func(ctx context.Context, m *queue.Message, c *azqueue.QueueClient) error {
			got.Store(m)
			_, err := c.EnqueueMessage(ctx, "seen "+m.ID, nil)
			return err
		}), queue.Trigger("msg", in), queue.Client("side", side))
	})
	id := env.Send(t, in, []byte("hello"))
	queuetest.WaitFor(t, 30*time.Second, "side message", func() bool { return len(env.Peek(t, side)) == 1 })
	m := got.Load()
	if m == nil || m.ID != id || string(m.Body) != "hello" || m.DequeueCount != 1 || m.PopReceipt == "" {
		t.Errorf("message = %+v", m)
	}
	if s := env.Peek(t, side)[0]; s != "seen "+id {
		t.Errorf("side = %q", s)
	}
}

func TestHostRetryPolicyRunsBeforeRelease(t *testing.T) { // C57 with C24: retries within one delivery
	env := queue.SharedEnv()
	in := env.NewQueue(t)
	var mu sync.Mutex
	var counts []int64
	startHost(t, nil, &extension.RetryPolicy{Strategy: extension.FixedDelay, MaxRetryCount: 2, DelayInterval: 10 * time.Millisecond}, func(h *extension.Host) error {
		return h.Func("Flaky", extension.Action(func(ctx context.Context, m *queue.Message) error {
			mu.Lock()
			defer mu.Unlock()
			counts = append(counts, m.DequeueCount)
			if len(counts) < 3 {
				return fmt.Errorf("flaky")
			}
			return nil
		}), queue.Trigger("msg", in))
	})
	env.Send(t, in, []byte("r"))
	queuetest.WaitFor(t, 30*time.Second, "deleted", func() bool {
		mu.Lock()
		n := len(counts)
		mu.Unlock()
		return n == 3 && env.Count(t, in) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(counts) != "[1 1 1]" {
		t.Errorf("dequeue counts per attempt = %v, want [1 1 1] (retries inside one delivery)", counts)
	}
}

func TestHostManyOutputsAndPoison(t *testing.T) { // collector output; poison through the runtime
	env := queue.SharedEnv()
	in := env.NewQueue(t)
	out := env.NewQueue(t)
	startHost(t, map[string]any{"maxDequeueCount": 2.0}, nil, func(h *extension.Host) error {
		return h.Func("Split", extension.Func(func(ctx context.Context, s string) ([]string, error) {
			if s == "bad" {
				return nil, fmt.Errorf("cannot split")
			}
			return []string{s + "-a", s + "-b", s + "-c"}, nil
		}), queue.Trigger("s", in), queue.Output("$return", out))
	})
	env.Send(t, in, []byte("x"))
	env.Send(t, in, []byte("bad"))
	queuetest.WaitFor(t, 30*time.Second, "3 outputs and 1 poison", func() bool {
		return len(env.Peek(t, out)) == 3 && len(env.Poison(t, in)) == 1
	})
	got := map[string]bool{}
	for _, s := range env.PeekDecoded(t, out) {
		got[s] = true
	}
	if !got["x-a"] || !got["x-b"] || !got["x-c"] {
		t.Errorf("outputs = %v", got)
	}
	if p := env.Poison(t, in)[0]; p != "YmFk" { // base64("bad"), byte-identical
		t.Errorf("poison = %q", p)
	}
}
