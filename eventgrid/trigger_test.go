package eventgrid_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
)

// recorder collects what handlers received.
type recorder struct {
	mu   sync.Mutex
	got  []string
	data []any
}

func (r *recorder) add(s string, data any) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.data = append(r.data, data)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.got...)
	sort.Strings(out)
	return out
}

func bindingData(ctx context.Context, name string) any {
	v, _ := extension.FromContext(ctx).BindingData(name)
	return v
}

// A host with one string-taking function "Raw" that records each event's id.
func rawHost(t *testing.T, rec *recorder, fail func(id string) error) *testHost {
	return startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		if err := h.Func("Raw", extension.Action(func(ctx context.Context, s string) error {
			var ev struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(s), &ev); err != nil {
				return err
			}
			rec.add(ev.ID, bindingData(ctx, "data"))
			if fail != nil {
				return fail(ev.ID)
			}
			return nil
		}), eventgrid.Trigger("ev")); err != nil {
			t.Fatal(err)
		}
	}})
}

func TestWebhookKeyAndRouting(t *testing.T) {
	var rec recorder
	th := rawHost(t, &rec, nil)
	body := arr(egEvent("a1", "s", `{"n":1}`))
	n := map[string]string{"aeg-event-type": "Notification"}
	cases := []struct {
		name, method, path string
		headers            map[string]string
		want               int
		wantBody           string
	}{
		{"no key", "POST", "/runtime/webhooks/eventgrid?functionName=Raw", n, 401, ""},
		{"wrong key", "POST", "/runtime/webhooks/eventgrid?functionName=Raw&code=" + testKey + "x", n, 401, ""},
		{"key prefix", "POST", "/runtime/webhooks/eventgrid?functionName=Raw&code=" + testKey[:10], n, 401, ""},
		{"wrong header key", "POST", "/runtime/webhooks/eventgrid?functionName=Raw", map[string]string{"aeg-event-type": "Notification", "x-functions-key": "nope"}, 401, ""},
		{"code", "POST", "/runtime/webhooks/eventgrid?functionName=Raw&code=" + testKey, n, 202, ""},
		{"header", "POST", "/runtime/webhooks/eventgrid?functionName=Raw", map[string]string{"aeg-event-type": "Notification", "x-functions-key": testKey}, 202, ""},
		{"extension name any case", "POST", "/runtime/webhooks/EventGrid?functionName=Raw&code=" + testKey, n, 202, ""},
		{"unknown function", "POST", "/runtime/webhooks/eventgrid?functionName=Nope&code=" + testKey, n, 404, "cannot find function: 'Nope'"},
		{"function name is exact", "POST", "/runtime/webhooks/eventgrid?functionName=raw&code=" + testKey, n, 404, "cannot find function: 'raw'"},
		{"no function name", "POST", "/runtime/webhooks/eventgrid?code=" + testKey, n, 404, "cannot find function: ''"},
		{"unknown extension", "POST", "/runtime/webhooks/blobs?functionName=Raw&code=" + testKey, n, 404, ""},
		{"sub path", "POST", "/runtime/webhooks/eventgrid/x?functionName=Raw&code=" + testKey, n, 404, ""},
		{"no event type", "POST", "/runtime/webhooks/eventgrid?functionName=Raw&code=" + testKey, nil, 400, ""},
		{"other event type", "POST", "/runtime/webhooks/eventgrid?functionName=Raw&code=" + testKey, map[string]string{"aeg-event-type": "Ping"}, 400, ""},
		{"unsubscribe", "POST", "/runtime/webhooks/eventgrid?functionName=Raw&code=" + testKey, map[string]string{"aeg-event-type": "Unsubscribe"}, 202, ""},
		{"event type any case", "PUT", "/runtime/webhooks/eventgrid?functionName=Raw&code=" + testKey, map[string]string{"aeg-event-type": "notification"}, 202, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := th.do(c.method, c.path, c.headers, body)
			if r.code != c.want {
				t.Fatalf("status %d (%q), want %d", r.code, r.body, c.want)
			}
			if c.wantBody != "" && r.body != c.wantBody {
				t.Fatalf("body %q, want %q", r.body, c.wantBody)
			}
			if c.want == 401 && strings.Contains(r.body, testKey) {
				t.Fatal("401 body shows the key")
			}
		})
	}
	// Exactly the three accepted notifications ran.
	if got := rec.list(); len(got) != 4 {
		t.Fatalf("invocations %v, want 4 (code, header, any-case extension, any-case event type)", got)
	}
}

func TestSubscriptionValidationHandshake(t *testing.T) {
	var rec recorder
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Any", extension.Action(func(ctx context.Context, s string) error { rec.add(s, nil); return nil }), eventgrid.Trigger("ev"))
		h.Func("Cloud", extension.Action(func(ctx context.Context, ce messaging.CloudEvent) error { return nil }), eventgrid.Trigger("ev"))
		h.Func("Grid", extension.Action(func(ctx context.Context, ev azeventgrid.Event) error { return nil }), eventgrid.Trigger("ev"))
	}})
	// Exactly as Azure sends it (Event Grid schema, array body).
	array := `[{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/xx/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t1","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/sub/validate?id=512d38b6&t=2026-01-01T00:00:00.0000000Z&apiVersion=2018-05-01-preview&token=abc"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-01-01T00:00:00.0000000Z","metadataVersion":"1","dataVersion":"2"}]`
	// Object body whose data is a JSON string (double-encoded), and one whose data is an object.
	objString := `{"id":"x","type":"Microsoft.EventGrid.SubscriptionValidationEvent","data":"{\"validationCode\":\"code-from-string\"}"}`
	objObject := `{"id":"x","data":{"validationCode":"code-from-object"}}`
	for _, c := range []struct {
		fn, body string
		want     int
		wantBody string
	}{
		{"Any", array, 200, `{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}`},
		{"Grid", array, 200, `{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}`},
		{"Any", objString, 200, `{"validationResponse":"code-from-string"}`},
		{"Any", objObject, 200, `{"validationResponse":"code-from-object"}`},
		{"Cloud", array, 409, "EventGridEvent schema cannot be used for a function that binds to CloudEvent."},
		{"Any", `[]`, 400, ""},
		{"Any", `[{"data":{}}]`, 400, ""},
		{"Any", `"text"`, 400, ""},
		{"Any", `{not json`, 400, ""},
	} {
		r := th.post(c.fn, "SubscriptionValidation", c.body)
		if r.code != c.want || (c.wantBody != "" && r.body != c.wantBody) {
			t.Errorf("%s %.40s: %d %q, want %d %q", c.fn, c.body, r.code, r.body, c.want, c.wantBody)
		}
	}
	if len(rec.list()) != 0 {
		t.Fatalf("a handshake invoked the function: %v", rec.list())
	}
}

func TestCloudEventsAbuseProtectionHandshake(t *testing.T) {
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Cloud", extension.Action(func(ctx context.Context, ce messaging.CloudEvent) error { return nil }), eventgrid.Trigger("ev"))
		h.Func("Grid", extension.Action(func(ctx context.Context, ev azeventgrid.Event) error { return nil }), eventgrid.Trigger("ev"))
	}})
	for _, c := range []struct{ fn, origin, want string }{
		{"Cloud", "eventgrid.azure.net", "eventgrid.azure.net"},
		{"Cloud", "eventgrid.azure.us", "eventgrid.azure.us"},
		{"Cloud", "eventgrid.azure.cn", "eventgrid.azure.cn"},
		{"Cloud", "eventgrid.azure.eaglex.ic.gov", "eventgrid.azure.eaglex.ic.gov"},
		{"Cloud", "eventgrid.azure.microsoft.scloud", "eventgrid.azure.microsoft.scloud"},
		{"Cloud", "evil.example.com", "eventgrid.azure.net"},
		{"Cloud", "", "eventgrid.azure.net"},
	} {
		r := th.do(http.MethodOptions, "/runtime/webhooks/eventgrid?functionName="+c.fn+"&code="+testKey, map[string]string{"WebHook-Request-Origin": c.origin}, "")
		if r.code != 200 || r.header.Get("WebHook-Allowed-Origin") != c.want {
			t.Errorf("origin %q: %d, WebHook-Allowed-Origin %q, want 200 %q", c.origin, r.code, r.header.Get("WebHook-Allowed-Origin"), c.want)
		}
	}
	r := th.do(http.MethodOptions, "/runtime/webhooks/eventgrid?functionName=Grid&code="+testKey, map[string]string{"WebHook-Request-Origin": "eventgrid.azure.net"}, "")
	if r.code != 409 || r.body != "CloudEvent schema cannot be used for a function that binds to EventGridEvent." || r.header.Get("WebHook-Allowed-Origin") != "" {
		t.Fatalf("Event Grid schema function: %d %q %v", r.code, r.body, r.header)
	}
	// The handshake needs the key too.
	if r := th.do(http.MethodOptions, "/runtime/webhooks/eventgrid?functionName=Cloud", map[string]string{"WebHook-Request-Origin": "eventgrid.azure.net"}, ""); r.code != 401 {
		t.Fatalf("OPTIONS without key: %d", r.code)
	}
}

// Single dispatch runs every event of a delivery as its own invocation, all at once, and answers
// 202 only when all succeeded.
func TestNotificationSingleDispatchParallel(t *testing.T) {
	const n = 5
	arrived := make(chan string, n)
	release := make(chan struct{})
	var rec recorder
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Par", extension.Action(func(ctx context.Context, ev azeventgrid.Event) error {
			arrived <- *ev.ID
			<-release // every invocation waits until all have started: proves they run in parallel
			rec.add(*ev.ID+"|"+*ev.Subject+"|"+*ev.EventType, bindingData(ctx, "data"))
			return nil
		}), eventgrid.Trigger("ev"))
	}})
	var events []string
	for i := range n {
		events = append(events, egEvent(fmt.Sprintf("e%d", i), fmt.Sprintf("items/%d", i), fmt.Sprintf(`{"n":%d}`, i)))
	}
	res := make(chan response, 1)
	go func() { res <- th.post("Par", "Notification", arr(events...)) }()
	for range n {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the events were not invoked in parallel")
		}
	}
	close(release)
	if r := <-res; r.code != 202 || r.body != "" {
		t.Fatalf("status %d %q, want 202", r.code, r.body)
	}
	got := rec.list()
	if len(got) != n || got[0] != "e0|items/0|Contoso.Items.ItemReceived" {
		t.Fatalf("got %v", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, d := range rec.data {
		m, ok := d.(map[string]any)
		if !ok || m["n"] == nil {
			t.Fatalf("binding data `data` of invocation %d is %#v, want the event's data object", i, d)
		}
	}
}

func TestNotificationFailureIs500(t *testing.T) {
	var rec recorder
	th := rawHost(t, &rec, func(id string) error {
		if id == "bad" {
			return errors.New("cannot handle item bad")
		}
		return nil
	})
	r := th.post("Raw", "Notification", arr(egEvent("ok1", "s", "{}"), egEvent("bad", "s", "{}"), egEvent("ok2", "s", "{}")))
	// The extension's answer (issue 23): the function's name only; the error is logged.
	if r.code != 500 || r.body != "Exception while executing function: Raw" {
		t.Fatalf("status %d %q, want 500 %q", r.code, r.body, "Exception while executing function: Raw")
	}
	if !strings.Contains(th.logs.String(), "cannot handle item bad") {
		t.Fatal("the handler's error is not in the host log")
	}
	if got := rec.list(); len(got) != 3 {
		t.Fatalf("every event runs even when one fails (Event Grid redelivers the whole request): %v", got)
	}
	// An empty array is a successful delivery of nothing.
	if r := th.post("Raw", "Notification", "[]"); r.code != 202 {
		t.Fatalf("empty array: %d", r.code)
	}
	for _, bad := range []string{`{"id":1`, `[1,2]`, `"x"`, ``, `[{"id":"a"},"b"]`} {
		if r := th.post("Raw", "Notification", bad); r.code != 400 {
			t.Errorf("body %q: %d %q, want 400", bad, r.code, r.body)
		}
	}
	if got := rec.list(); len(got) != 3 {
		t.Fatalf("malformed bodies invoked the function: %v", got)
	}
}

// CloudEvents: structured mode (one object, application/cloudevents+json) and batched mode
// (an array, application/cloudevents-batch+json), into messaging.CloudEvent.
func TestCloudEventsSchema(t *testing.T) {
	var rec recorder
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Cloud", extension.Action(func(ctx context.Context, ce messaging.CloudEvent) error {
			data, _ := ce.Data.([]byte)
			rec.add(ce.ID+"|"+ce.Type+"|"+ce.SpecVersion+"|"+string(data), bindingData(ctx, "data"))
			return nil
		}), eventgrid.Trigger("ev"))
	}})
	one := th.do("POST", "/runtime/webhooks/eventgrid?functionName=Cloud&code="+testKey,
		map[string]string{"aeg-event-type": "Notification", "Content-Type": "application/cloudevents+json; charset=utf-8"}, ceEvent("c1", `{"k":"v"}`))
	batch := th.do("POST", "/runtime/webhooks/eventgrid?functionName=Cloud&code="+testKey,
		map[string]string{"aeg-event-type": "Notification", "Content-Type": "application/cloudevents-batch+json; charset=utf-8"}, arr(ceEvent("c2", `{"k":2}`), ceEvent("c3", `"text"`)))
	if one.code != 202 || batch.code != 202 {
		t.Fatalf("statuses %d %q, %d %q", one.code, one.body, batch.code, batch.body)
	}
	want := []string{`c1|Contoso.Items.ItemReceived|1.0|{"k":"v"}`, `c2|Contoso.Items.ItemReceived|1.0|{"k":2}`, `c3|Contoso.Items.ItemReceived|1.0|"text"`}
	if got := rec.list(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An Event Grid schema event is not a CloudEvent: the invocation fails (500).
	if r := th.post("Cloud", "Notification", arr(egEvent("g", "s", "{}"))); r.code != 500 {
		t.Fatalf("Event Grid event to a CloudEvent function: %d %q", r.code, r.body)
	}
}

// A slice parameter gets the whole delivery in one invocation (batch dispatch), with or without
// cardinality many; binding data `data` is then the array of every event's data.
func TestBatchDispatch(t *testing.T) {
	type item struct {
		ID   string         `json:"id"`
		Data map[string]int `json:"data"`
	}
	var rec recorder
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Events", extension.Action(func(ctx context.Context, evs []azeventgrid.Event) error {
			var ids []string
			for _, e := range evs {
				ids = append(ids, *e.ID)
			}
			rec.add("Events:"+strings.Join(ids, ","), bindingData(ctx, "data"))
			return nil
		}), eventgrid.Trigger("ev"))
		h.Func("Clouds", extension.Action(func(ctx context.Context, evs []messaging.CloudEvent) error {
			var ids []string
			for _, e := range evs {
				ids = append(ids, e.ID)
			}
			rec.add("Clouds:"+strings.Join(ids, ","), nil)
			return nil
		}), eventgrid.Trigger("ev", map[string]any{"cardinality": "many"}))
		h.Func("Strings", extension.Action(func(ctx context.Context, evs []string) error {
			var ids []string
			for _, s := range evs {
				var it item
				if err := json.Unmarshal([]byte(s), &it); err != nil {
					return err
				}
				ids = append(ids, it.ID)
			}
			rec.add("Strings:"+strings.Join(ids, ","), nil)
			return nil
		}), eventgrid.Trigger("ev"))
		h.Func("Structs", extension.Action(func(ctx context.Context, evs []item) error {
			var ids []string
			for _, it := range evs {
				ids = append(ids, fmt.Sprintf("%s=%d", it.ID, it.Data["n"]))
			}
			rec.add("Structs:"+strings.Join(ids, ","), nil)
			return nil
		}), eventgrid.Trigger("ev"))
	}})
	eg := arr(egEvent("a", "s", `{"n":1}`), egEvent("b", "s", `{"n":2}`), egEvent("c", "s", `{"n":3}`))
	for _, fn := range []string{"Events", "Strings", "Structs"} {
		if r := th.post(fn, "Notification", eg); r.code != 202 {
			t.Fatalf("%s: %d %q", fn, r.code, r.body)
		}
	}
	if r := th.post("Clouds", "Notification", arr(ceEvent("x", "1"), ceEvent("y", "2"))); r.code != 202 {
		t.Fatalf("Clouds: %d %q", r.code, r.body)
	}
	want := []string{"Clouds:x,y", "Events:a,b,c", "Strings:a,b,c", "Structs:a=1,b=2,c=3"}
	if got := rec.list(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v (one invocation per delivery)", got, want)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, s := range rec.got {
		if strings.HasPrefix(s, "Events:") {
			d, ok := rec.data[i].([]any)
			if !ok || len(d) != 3 || d[2].(map[string]any)["n"] != float64(3) {
				t.Fatalf("batch binding data `data` = %#v, want the array of the events' data", rec.data[i])
			}
		}
	}
}

// Handler parameter types for single dispatch, and binding expressions on the event's members.
func TestParameterTypes(t *testing.T) {
	type payload struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
		Data    struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	var rec recorder
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Bytes", extension.Action(func(ctx context.Context, b []byte) error {
			rec.add("Bytes:"+string(b), nil)
			return nil
		}), eventgrid.Trigger("ev"))
		h.Func("Struct", extension.Action(func(ctx context.Context, p payload) error {
			rec.add("Struct:"+p.ID+","+p.Subject+","+p.Data.Name, nil)
			return nil
		}), eventgrid.Trigger("ev"))
		h.Func("Ptr", extension.Action(func(ctx context.Context, ev *azeventgrid.Event) error {
			rec.add("Ptr:"+*ev.ID+","+ev.EventTime.UTC().Format(time.RFC3339Nano), nil)
			return nil
		}), eventgrid.Trigger("ev"))
		h.Func("Map", extension.Action(func(ctx context.Context, m map[string]any) error {
			subject, _ := bindingData(ctx, "subject").(string)
			rec.add("Map:"+m["id"].(string)+","+subject, nil)
			return nil
		}), eventgrid.Trigger("ev"))
	}})
	ev := egEvent("p1", "items/p1", `{"name":"widget"}`)
	for _, fn := range []string{"Bytes", "Struct", "Ptr", "Map"} {
		if r := th.post(fn, "Notification", arr(ev)); r.code != 202 {
			t.Fatalf("%s: %d %q", fn, r.code, r.body)
		}
	}
	want := []string{"Bytes:" + ev, "Map:p1,items/p1", "Ptr:p1,2026-01-02T03:04:05.1234567Z", "Struct:p1,items/p1,widget"}
	if got := rec.list(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Once the host drains, new requests get 503 while a request in flight finishes with 202.
func TestDrainAnswers503(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	th := startHost(t, hostConfig{shutdown: 20 * time.Second, declare: func(t *testing.T, h *extension.Host) {
		h.Func("Slow", extension.Action(func(ctx context.Context, s string) error {
			if strings.Contains(s, `"id":"1"`) { // only the first delivery blocks
				started <- struct{}{}
				<-release
			}
			return nil
		}), eventgrid.Trigger("ev"))
	}})
	first := make(chan response, 1)
	go func() { first <- th.post("Slow", "Notification", arr(egEvent("1", "s", "{}"))) }()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- th.stop() }()
	select {
	case <-th.h.Draining():
	case <-time.After(10 * time.Second):
		t.Fatal("host did not begin to drain")
	}
	// The trigger's context is cancelled as the drain begins; give Listen a moment to see it.
	deadline := time.Now().Add(5 * time.Second)
	var r response
	for time.Now().Before(deadline) {
		if r = th.post("Slow", "Notification", arr(egEvent("2", "s", "{}"))); r.code == 503 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r.code != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("request during the drain: %d %q, want 503 with Retry-After", r.code, r.body)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a webhook request was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-first; r.code != 202 {
		t.Fatalf("in-flight request: %d %q, want 202", r.code, r.body)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// An invocation still running at the drain deadline is cancelled by the host: its delivery is
// answered 503 (not acknowledged), so that Event Grid delivers it again.
func TestCancelledAtDeadlineIs503(t *testing.T) {
	started := make(chan struct{}, 1)
	th := startHost(t, hostConfig{shutdown: 100 * time.Millisecond, declare: func(t *testing.T, h *extension.Host) {
		h.Func("Stuck", extension.Action(func(ctx context.Context, s string) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}), eventgrid.Trigger("ev"))
	}})
	res := make(chan response, 1)
	go func() { res <- th.post("Stuck", "Notification", arr(egEvent("1", "s", "{}"))) }()
	<-started
	go th.stop()
	select {
	case r := <-res:
		if r.code != 503 {
			t.Fatalf("cancelled invocation: %d %q, want 503", r.code, r.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer after the drain deadline")
	}
}
