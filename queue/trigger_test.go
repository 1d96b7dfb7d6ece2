package queue

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/queue/queuetest"
)

// testResolver resolves every connection name to the test Azurite account.
type testResolver struct{ transport *countingTransport }

func (r testResolver) Resolve(ctx context.Context, name string, svc connection.Service) (*connection.Connection, error) {
	c := &connection.Connection{Name: name, Service: svc, Source: "test", Key: name, Kind: connection.KindConnectionString, ConnectionString: env.ConnectionString}
	if r.transport != nil {
		c.ClientOptions.Transport = r.transport
	}
	return c, nil
}

// countingTransport counts requests by kind ("GET ?comp=..." etc.).
type countingTransport struct {
	mu sync.Mutex
	n  map[string]int
}

func newCountingTransport() *countingTransport { return &countingTransport{n: map[string]int{}} }

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	kind := req.Method
	q := req.URL.Query()
	switch {
	case q.Get("comp") != "":
		kind += " comp=" + q.Get("comp")
	case strings.HasSuffix(req.URL.Path, "/messages"):
		kind += " messages"
	case strings.Contains(req.URL.Path, "/messages/"):
		kind += " message"
	default:
		kind += " queue"
	}
	c.mu.Lock()
	c.n[kind]++
	c.mu.Unlock()
	return http.DefaultClient.Do(req)
}

func (c *countingTransport) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[kind]
}

func bindContext(t *testing.T, spec *driver.BindingSpec, param reflect.Type, config map[string]any, tr *countingTransport) *driver.BindContext {
	t.Helper()
	spec.Where = "Go API: F: bindings[0]"
	return &driver.BindContext{
		Function: "F",
		Spec:     spec,
		Host:     testhost.Services(t, extension.HostOptions{Logger: slogDiscard(), Connections: testResolver{transport: tr}, Concurrency: 1}),
		Param:    param,
		Config:   config,
	}
}

func newTestTrigger(t *testing.T, queueName string, param reflect.Type, config map[string]any) *trigger {
	t.Helper()
	if config == nil {
		config = map[string]any{}
	}
	if _, ok := config["maxPollingInterval"]; !ok {
		config["maxPollingInterval"] = "00:00:00.2"
	}
	tr, err := newTrigger(context.Background(), bindContext(t, Trigger("msg", queueName), param, config, nil))
	if err != nil {
		t.Fatal(err)
	}
	return tr.(*trigger)
}

func TestTriggerMessageAndMetadata(t *testing.T) { // C27
	q := env.NewQueue(t)
	before := time.Now().Add(-time.Minute)
	id := env.Send(t, q, []byte(`{"orderId":"o-1","qty":2}`))
	tr := newTestTrigger(t, q, messagePtrType, nil)
	events := make(chan *driver.Event, 1)
	runBG(t, func(ctx context.Context) error {
		return tr.Run(ctx, execFunc(func(ctx context.Context, ev *driver.Event) driver.Result {
			events <- ev
			return ok
		}))
	})
	var ev *driver.Event
	select {
	case ev = <-events:
	case <-time.After(waitLong):
		t.Fatal("no event")
	}
	m, isMsg := ev.Data.(*Message)
	if !isMsg {
		t.Fatalf("Data = %T, want *queue.Message", ev.Data)
	}
	if ev.ID != id || m.ID != id || string(m.Body) != `{"orderId":"o-1","qty":2}` || m.DequeueCount != 1 || m.PopReceipt == "" {
		t.Errorf("message = %+v, event id %q", m, ev.ID)
	}
	if m.InsertionTime.Before(before) || !m.ExpirationTime.After(time.Now()) || !m.NextVisibleTime.After(time.Now()) {
		t.Errorf("times: inserted %v expires %v next visible %v", m.InsertionTime, m.ExpirationTime, m.NextVisibleTime)
	}
	want := map[string]any{
		"QueueTrigger": `{"orderId":"o-1","qty":2}`, "dequeuecount": int64(1), "ID": id, "popReceipt": m.PopReceipt,
		"InsertionTime": m.InsertionTime, "EXPIRATIONTIME": m.ExpirationTime, "NextVisibleTime": m.NextVisibleTime,
	}
	for k, w := range want {
		v, found := ev.Metadata.Lookup(k)
		if !found || !reflect.DeepEqual(v, w) {
			t.Errorf("Lookup(%q) = %v, %v; want %v", k, v, found, w)
		}
	}
	// *Message is not a POCO: payload properties are not binding data.
	if v, found := ev.Metadata.Lookup("orderId"); found {
		t.Errorf("Lookup(orderId) = %v with a *Message parameter", v)
	}
	names := tr.BindingData()
	for _, n := range append(MetadataNames, "*") {
		if !slicesContains(names, n) {
			t.Errorf("BindingData() = %v lacks %s", names, n)
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestTriggerDataForParamTypes(t *testing.T) {
	type order struct {
		OrderID string `json:"orderId"`
	}
	cases := []struct {
		name  string
		param reflect.Type
		check func(ev *driver.Event) string
	}{
		{"string", reflect.TypeFor[string](), func(ev *driver.Event) string {
			if b, isBytes := ev.Data.([]byte); !isBytes || string(b) != `{"orderId":"o-9"}` {
				return "want the body as []byte"
			}
			return ""
		}},
		{"struct", reflect.TypeFor[order](), nil},
		{"ptrstruct", reflect.TypeFor[*order](), nil},
		{"map", reflect.TypeFor[map[string]any](), nil},
		{"message", messageType, func(ev *driver.Event) string {
			if m, isMsg := ev.Data.(Message); !isMsg || m.ID != ev.ID {
				return "want a queue.Message value"
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := env.NewQueue(t)
			env.Send(t, q, []byte(`{"orderId":"o-9"}`))
			tr := newTestTrigger(t, q, c.param, nil)
			events := make(chan *driver.Event, 1)
			runBG(t, func(ctx context.Context) error {
				return tr.Run(ctx, execFunc(func(ctx context.Context, ev *driver.Event) driver.Result {
					events <- ev
					return ok
				}))
			})
			var ev *driver.Event
			select {
			case ev = <-events:
			case <-time.After(waitLong):
				t.Fatal("no event")
			}
			if c.check != nil {
				if msg := c.check(ev); msg != "" {
					t.Errorf("Data = %T %v: %s", ev.Data, ev.Data, msg)
				}
			}
			// One owner of payload binding data: the runtime reads Event.Payload, whatever the
			// parameter type; the trigger's metadata holds only C27 names.
			if string(ev.Payload) != `{"orderId":"o-9"}` {
				t.Errorf("Event.Payload = %q, want the message body", ev.Payload)
			}
			if v, found := ev.Metadata.Lookup("ORDERID"); found {
				t.Errorf("trigger metadata has payload property orderId = %v for a %s parameter; the runtime owns it", v, c.param)
			}
		})
	}
}

func TestTriggerHostJSONOptions(t *testing.T) { // C20–C26 host.json keys
	tr := newTestTrigger(t, "orders", nil, map[string]any{
		"BatchSize": 4.0, "newBatchThreshold": 0.0, "maxPollingInterval": "00:00:02", "visibilityTimeout": "00:00:05",
		"maxDequeueCount": 2.0, "messageEncoding": "None", "failureBackoff": true, "maxFailureBackoff": "00:01:00", "receiveVisibility": "00:00:45",
	})
	o := tr.Options()
	if o.BatchSize != 4 || *o.NewBatchThreshold != 0 || o.MaxPollingInterval != 2*time.Second || o.VisibilityTimeout != 5*time.Second ||
		o.MaxDequeueCount != 2 || o.Encoding != None || !o.FailureBackoff || o.MaxFailureBackoff != time.Minute || o.ReceiveVisibility != 45*time.Second {
		t.Errorf("options = %+v", o)
	}
	d := newTestTrigger(t, "orders", nil, map[string]any{}).Options()
	if d.BatchSize != 16 || *d.NewBatchThreshold != 8 || d.MaxDequeueCount != 5 || d.Encoding != Base64 || d.VisibilityTimeout != 0 || d.ReceiveVisibility != 30*time.Second {
		t.Errorf("defaults with Concurrency 1 = %+v", d)
	}
	if tr.poison == nil || !strings.HasSuffix(tr.poison.URL(), "/orders-poison") {
		t.Errorf("poison queue = %v", tr.poison)
	}
}

func TestTriggerConfigErrors(t *testing.T) {
	cases := []struct {
		queue  string
		config map[string]any
		want   []string
	}{
		{"orders", map[string]any{"batchSize": 33.0}, []string{"host.json: extensions.queues.batchSize", "1 to 32"}},
		{"orders", map[string]any{"batchSize": 0.0}, []string{"host.json: extensions.queues.batchSize"}},
		{"orders", map[string]any{"messageEncoding": "utf8"}, []string{"host.json: extensions.queues.messageEncoding", `"base64" or "none"`}},
		{"orders", map[string]any{"maxPollingInterval": "00:00:00.05"}, []string{"extensions.queues.maxPollingInterval", "100 ms"}},
		{"orders", map[string]any{"maxDequeueCount": 0.0}, []string{"extensions.queues.maxDequeueCount"}},
		{"orders", map[string]any{"visibilityTimeout": "soon"}, []string{"visibilityTimeout"}},
		{"orders", map[string]any{"receiveVisibility": "00:00:00.5"}, []string{"host.json: extensions.queues.receiveVisibility", "00:00:01 to 7.00:00:00"}},
		{"Orders_Q", nil, []string{"Go API: F: bindings[0]: queueName", "lower-case"}},
		{"ab", nil, []string{"queueName", "3 to 63"}},
		{"orders-{id}", nil, []string{"queueName", "cannot use {…} expressions"}},
		{"", nil, []string{"queueName: is required"}},
	}
	for _, c := range cases {
		_, err := newTrigger(context.Background(), bindContext(t, Trigger("msg", c.queue), nil, c.config, nil))
		if err == nil {
			t.Errorf("queue %q config %v: no error", c.queue, c.config)
			continue
		}
		if !errors.Is(err, driver.ErrInvalidConfig) {
			t.Errorf("error %q does not wrap ErrInvalidConfig", err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
	spec := Trigger("msg", "orders", driver.Props{"cardinality": "many"})
	if _, err := newTrigger(context.Background(), bindContext(t, spec, nil, nil, nil)); err == nil || !strings.Contains(err.Error(), "cardinality") {
		t.Errorf("cardinality many: %v", err)
	}
}

func TestTriggerEncodingNoneAndFailureFlow(t *testing.T) { // C24, C26 through the trigger
	q := env.NewQueue(t)
	env.SendRaw(t, q, "raw text")
	tr := newTestTrigger(t, q, reflect.TypeFor[string](), map[string]any{"messageEncoding": "none", "maxDequeueCount": 2.0})
	var calls atomic.Int64
	runBG(t, func(ctx context.Context) error {
		return tr.Run(ctx, execFunc(func(ctx context.Context, ev *driver.Event) driver.Result {
			calls.Add(1)
			if string(ev.Data.([]byte)) != "raw text" {
				t.Errorf("data = %q", ev.Data)
			}
			return fail
		}))
	})
	queuetest.WaitFor(t, waitLong, "poisoned after 2 attempts", func() bool { return len(env.Poison(t, q)) == 1 })
	if got := env.Poison(t, q)[0]; got != "raw text" || calls.Load() != 2 {
		t.Errorf("poison = %q after %d calls", got, calls.Load())
	}
}

func TestTriggerNoUnnecessaryRequests(t *testing.T) { // §3.1 step 1: existence cached
	q := env.NewQueue(t)
	tr := newCountingTransport()
	b, err := newTrigger(context.Background(), bindContext(t, Trigger("msg", q), nil, map[string]any{"maxPollingInterval": "00:00:00.2"}, tr))
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int64
	runBG(t, func(ctx context.Context) error {
		return b.Run(ctx, execFunc(func(ctx context.Context, ev *driver.Event) driver.Result {
			handled.Add(1)
			return ok
		}))
	})
	for i := range 20 {
		env.Send(t, q, []byte{byte('a' + i)})
	}
	queuetest.WaitFor(t, waitLong, "20 handled and deleted", func() bool { return handled.Load() == 20 && tr.count("DELETE message") == 20 })
	if n := tr.count("GET queue") + tr.count("GET comp=metadata"); n != 1 {
		t.Errorf("queue properties requests = %d, want 1 (existence cached)", n)
	}
	if n := tr.count("PUT queue"); n != 0 {
		t.Errorf("create requests = %d, want 0", n)
	}
	if n := tr.count("PUT message"); n != 0 {
		t.Errorf("update requests = %d, want 0 for fast handlers", n)
	}
}

func TestOutputRoundTrip(t *testing.T) {
	q := env.QueueName(t)
	env.Cleanup(t, q)
	tr := newCountingTransport()
	o, err := newOutput(context.Background(), bindContext(t, Output("$return", q+"{suffix}"), nil, nil, tr))
	if err != nil {
		t.Fatal(err)
	}
	fc := &driver.FunctionContext{Metadata: driver.MapMetadata{"Suffix": ""}}
	type order struct {
		ID  string `json:"id"`
		Qty int    `json:"qty"`
	}
	for i := range 2 { // two invocations: the queue is created once
		s, err := o.Open(context.Background(), fc)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range []any{"text", []byte{0xff, 0x01}, order{"o-1", 3}, &Message{Body: []byte("m")}} {
			if err := s.Add(context.Background(), item); err != nil {
				t.Fatal(err)
			}
		}
		if n := env.Count(t, q); n != 4*i {
			t.Fatalf("%d messages in the queue before Flush, want %d", n, 4*i)
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got := env.Peek(t, q)
	want := []string{"text", "\xff\x01", `{"id":"o-1","qty":3}`, "m"}
	if len(got) != 8 {
		t.Fatalf("queue has %d messages, want 8", len(got))
	}
	for i, text := range got {
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil || string(b) != want[i%4] {
			t.Errorf("message %d = %q (%v), want base64 of %q", i, text, err, want[i%4])
		}
	}
	if n := tr.count("PUT queue"); n != 1 {
		t.Errorf("create requests = %d, want 1 (cached per queue)", n)
	}
}

func TestOutputTemplateEncodingAndErrors(t *testing.T) {
	base := env.QueueName(t)
	env.Cleanup(t, base+"-a1")
	o, err := newOutput(context.Background(), bindContext(t, Output("out", base+"-{Id}"), nil, map[string]any{"messageEncoding": "none"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open(context.Background(), &driver.FunctionContext{Metadata: driver.MapMetadata{"id": "a1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), "plain"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), strings.Repeat("x", MaxMessageSize+1)); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("oversized message: %v", err)
	}
	if err := s.Add(context.Background(), nil); err == nil {
		t.Error("nil item accepted")
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := env.Peek(t, base+"-a1"); len(got) != 1 || got[0] != "plain" {
		t.Errorf("queue %s-a1 = %q, want [plain]", base, got)
	}
	// A sink discarded without Flush sends nothing.
	s2, _ := o.Open(context.Background(), &driver.FunctionContext{Metadata: driver.MapMetadata{"id": "a1"}})
	s2.Add(context.Background(), "never")
	if got := env.Peek(t, base+"-a1"); len(got) != 1 {
		t.Errorf("unflushed item became visible: %q", got)
	}
	// An evaluated name that is invalid fails the invocation with a clear error.
	if _, err := o.Open(context.Background(), &driver.FunctionContext{Metadata: driver.MapMetadata{"id": "Bad_Name"}}); err == nil || !strings.Contains(err.Error(), "queueName") {
		t.Errorf("invalid evaluated name: %v", err)
	}
	if _, err := newOutput(context.Background(), bindContext(t, Output("out", "Bad_Q"), nil, nil, nil)); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("invalid literal name: %v", err)
	}
}

func TestClientInput(t *testing.T) {
	q := env.NewQueue(t)
	in, err := newInput(context.Background(), bindContext(t, Client("client", q), queueClientType, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	v, err := in.Bind(context.Background(), &driver.FunctionContext{Metadata: driver.MapMetadata{}})
	if err != nil {
		t.Fatal(err)
	}
	qc, isClient := v.(*azqueue.QueueClient)
	if !isClient {
		t.Fatalf("Bind = %T", v)
	}
	if _, err := qc.EnqueueMessage(context.Background(), "via client", nil); err != nil {
		t.Fatal(err)
	}
	if got := env.Peek(t, q); len(got) != 1 || got[0] != "via client" {
		t.Errorf("queue = %q", got)
	}
	in2, err := newInput(context.Background(), bindContext(t, Client("svc", ""), serviceClientType, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := in2.Bind(context.Background(), nil); reflect.TypeOf(v) != serviceClientType {
		t.Errorf("Bind = %T, want *azqueue.ServiceClient", v)
	}
	if _, err := newInput(context.Background(), bindContext(t, Client("x", q), reflect.TypeFor[string](), nil, nil)); !errors.Is(err, driver.ErrUnsupportedType) {
		t.Errorf("string parameter: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	for _, typ := range []string{"queueTrigger", "QUEUE"} {
		bt, ext, found := driver.Lookup(typ)
		if !found || ext.Name != "queues" || bt.Service != connection.Queue {
			t.Errorf("Lookup(%s) = %v %v %v", typ, bt.Type, ext, found)
		}
	}
}

func TestPoisonQueueName(t *testing.T) { // §3.1 step 8
	for in, want := range map[string]string{
		"orders":                      "orders-poison",
		"orders-poison":               "",
		strings.Repeat("a", 57):       "",
		strings.Repeat("a", 56):       strings.Repeat("a", 56) + "-poison",
		"azure-webjobs-blobtrigger-x": "azure-webjobs-blobtrigger-x-poison",
	} {
		if got := PoisonQueueName(in); got != want {
			t.Errorf("PoisonQueueName(%q) = %q, want %q", in, got, want)
		}
	}
}
