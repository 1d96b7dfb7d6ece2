package eventgrid_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/identitytest"
)

const topicKey = "topic-key-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// receiver is an HTTPS Event Grid topic on loopback that records what it is sent.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	status int    // answer (default 200)
	answer string // answer body
}

type recorded struct {
	method, path string
	query        map[string][]string
	header       http.Header
	body         []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: 200}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.Query(), req.Header.Clone(), b})
		status, answer := r.status, r.answer
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// answerWith sets the receiver's answer to the next requests.
func (r *receiver) answerWith(status int, body string) {
	r.mu.Lock()
	r.status, r.answer = status, body
	r.mu.Unlock()
}

func (r *receiver) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// clientOptions trust the receiver's certificate and do not retry.
func (r *receiver) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Transport: r.srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}
}

// publishHost runs a host whose function "Pub" (an Event Grid trigger) writes what produce returns
// for the delivered event to an eventGrid output declared with props.
func publishHost(t *testing.T, rcv *receiver, settings map[string]string, props driver.Props, produce func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error) *testHost {
	return startHost(t, hostConfig{settings: settings, opts: rcv.clientOptions(), declare: func(t *testing.T, h *extension.Host) {
		err := h.Func("Pub", extension.Reflect(func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error {
			return produce(ctx, ev, out)
		}), eventgrid.Trigger("ev"), eventgrid.Output("out", props))
		if err != nil {
			t.Fatal(err)
		}
	}})
}

func keySettings(rcv *receiver) map[string]string {
	return map[string]string{"TopicUri": rcv.srv.URL + "/api/events", "TopicKey": topicKey}
}

var keyProps = driver.Props{"topicEndpointUri": "TopicUri", "topicKeySetting": "TopicKey"}

func decodeArray(t *testing.T, b []byte) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("body is not a JSON array of objects: %v: %s", err, b)
	}
	return out
}

// Event Grid schema items (a JSON map, a string, an SDK event) go out in one request on flush,
// with the topic key in aeg-sas-key, exactly as the service expects them.
func TestOutputEventGridSchemaWithKey(t *testing.T) {
	rcv := newReceiver(t)
	th := publishHost(t, rcv, keySettings(rcv), keyProps, func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error {
		out.Add(ctx, map[string]any{"id": "o1", "subject": "orders/1", "eventType": "Shop.OrderPlaced", "eventTime": "2026-03-04T05:06:07Z", "dataVersion": "1.0", "data": map[string]any{"from": *ev.ID}})
		out.Add(ctx, `{"id":"o2","subject":"orders/2","eventType":"Shop.OrderPlaced","eventTime":"2026-03-04T05:06:08Z","dataVersion":"1.0","data":{"big":12345678901234567890}}`)
		out.Add(ctx, azeventgrid.Event{ID: to.Ptr("o3"), Subject: to.Ptr("orders/3"), EventType: to.Ptr("Shop.OrderPlaced"), EventTime: to.Ptr(time.Date(2026, 3, 4, 5, 6, 9, 0, time.UTC)), DataVersion: to.Ptr("1.0"), Data: "text"})
		return nil
	})
	if r := th.post("Pub", "Notification", arr(egEvent("in1", "s", "{}"))); r.code != 202 {
		t.Fatalf("webhook: %d %q", r.code, r.body)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests to the topic, want 1", len(reqs))
	}
	req := reqs[0]
	if req.method != "POST" || req.path != "/api/events" || req.query["api-version"][0] != "2018-01-01" || len(req.query) != 1 {
		t.Fatalf("request %s %s %v", req.method, req.path, req.query)
	}
	if req.header.Get("aeg-sas-key") != topicKey || req.header.Get("Authorization") != "" {
		t.Fatal("the topic key is not sent in aeg-sas-key (or a bearer token is sent too)")
	}
	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	evs := decodeArray(t, req.body)
	if len(evs) != 3 {
		t.Fatalf("%d events in the body, want 3", len(evs))
	}
	for i, want := range []map[string]string{
		{"id": `"o1"`, "subject": `"orders/1"`, "eventType": `"Shop.OrderPlaced"`, "eventTime": `"2026-03-04T05:06:07Z"`, "dataVersion": `"1.0"`, "data": `{"from":"in1"}`},
		{"id": `"o2"`, "eventTime": `"2026-03-04T05:06:08Z"`, "data": `{"big":12345678901234567890}`},
		{"id": `"o3"`, "eventTime": `"2026-03-04T05:06:09Z"`, "data": `"text"`},
	} {
		for k, v := range want {
			if string(evs[i][k]) != v {
				t.Errorf("event %d %s = %s, want %s", i, k, evs[i][k], v)
			}
		}
		if _, ok := evs[i]["specversion"]; ok {
			t.Errorf("event %d carries CloudEvents attributes", i)
		}
	}
}

// CloudEvents go out as application/cloudevents-batch+json, JSON data as JSON (not base64).
func TestOutputCloudEvents(t *testing.T) {
	rcv := newReceiver(t)
	th := publishHost(t, rcv, keySettings(rcv), keyProps, func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error {
		ce, err := messaging.NewCloudEvent("/shop", "Shop.OrderPlaced", map[string]any{"n": 1}, &messaging.CloudEventOptions{Subject: to.Ptr("orders/1")})
		if err != nil {
			return err
		}
		out.Add(ctx, ce)
		out.Add(ctx, []byte(`{"specversion":"1.0","id":"c2","source":"/shop","type":"Shop.OrderShipped","data":{"k":"v"},"tenant":"x"}`))
		return nil
	})
	if r := th.post("Pub", "Notification", arr(egEvent("in1", "s", "{}"))); r.code != 202 {
		t.Fatalf("webhook: %d %q", r.code, r.body)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if ct := reqs[0].header.Get("Content-Type"); ct != "application/cloudevents-batch+json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if reqs[0].header.Get("aeg-sas-key") != topicKey {
		t.Fatal("no aeg-sas-key")
	}
	evs := decodeArray(t, reqs[0].body)
	if len(evs) != 2 || string(evs[0]["specversion"]) != `"1.0"` || string(evs[0]["data"]) != `{"n":1}` || string(evs[0]["subject"]) != `"orders/1"` {
		t.Fatalf("first event %v", evs)
	}
	if string(evs[1]["id"]) != `"c2"` || string(evs[1]["data"]) != `{"k":"v"}` || string(evs[1]["tenant"]) != `"x"` || evs[1]["data_base64"] != nil {
		t.Fatalf("second event: id %s data %s tenant %s data_base64 %s", evs[1]["id"], evs[1]["data"], evs[1]["tenant"], evs[1]["data_base64"])
	}
}

// Nothing is published for a failed invocation, for an invalid event or for a batch that mixes
// schemas; the webhook answers 500 with the reason.
func TestOutputOnlyAfterSuccessAndValid(t *testing.T) {
	rcv := newReceiver(t)
	egItem := `{"id":"o","subject":"s","eventType":"T","eventTime":"2026-03-04T05:06:07Z","dataVersion":"1","data":{}}`
	ceItem := `{"specversion":"1.0","id":"c","source":"/s","type":"T"}`
	th := publishHost(t, rcv, keySettings(rcv), keyProps, func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error {
		switch *ev.Subject {
		case "fail":
			out.Add(ctx, egItem)
			return errors.New("handler failed after adding")
		case "mixed":
			out.Add(ctx, egItem)
			out.Add(ctx, ceItem)
		case "invalid":
			out.Add(ctx, "hello")
		case "missing":
			out.Add(ctx, `{"id":"o","subject":"s","eventType":"T","eventTime":"2026-03-04T05:06:07Z","data":{}}`)
		}
		return nil
	})
	for subject, want := range map[string]string{
		"fail":    "handler failed after adding",
		"mixed":   "item 1",
		"invalid": "not a valid event",
		"missing": "dataVersion",
	} {
		r := th.post("Pub", "Notification", arr(egEvent("x", subject, "{}")))
		if r.code != 500 || r.body != "Exception while executing function: Pub" || !strings.Contains(th.logs.String(), want) {
			t.Errorf("%s: %d %q, want 500 with the extension's text and the host log mentioning %q", subject, r.code, r.body, want)
		}
	}
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("%d publish requests, want none", n)
	}
}

// A refused publish fails the invocation with the service's error, without the key.
func TestOutputServiceErrorHidesKey(t *testing.T) {
	rcv := newReceiver(t)
	rcv.answerWith(401, `{"error":{"code":"Unauthorized","message":"The request authorization key is not authorized for TOPIC."}}`)
	th := publishHost(t, rcv, keySettings(rcv), keyProps, func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error {
		return out.Add(ctx, `{"id":"o","subject":"s","eventType":"T","eventTime":"2026-03-04T05:06:07Z","dataVersion":"1","data":{}}`)
	})
	r := th.post("Pub", "Notification", arr(egEvent("x", "s", "{}")))
	if r.code != 500 || strings.Contains(r.body, "Unauthorized") || !strings.Contains(th.logs.String(), "Unauthorized") {
		t.Fatalf("%d %q, want 500 without the service's error, which the host log has", r.code, r.body)
	}
	if strings.Contains(r.body, topicKey) || strings.Contains(th.logs.String(), topicKey) {
		t.Fatal("the topic key appears in the error or the logs")
	}
	if len(rcv.requests()) != 1 {
		t.Fatal("the publish was not attempted exactly once")
	}
}

// An identity connection (<name>__topicEndpointUri + managed identity) sends a bearer token for
// the Event Grid scope, fetched from a loopback token endpoint.
func TestOutputIdentityConnection(t *testing.T) {
	rcv := newReceiver(t)
	ids := identitytest.Start(t, nil)
	ids.SetEnv(t)
	settings := map[string]string{"Topic__topicEndpointUri": rcv.srv.URL + "/api/events", "Topic__credential": "managedidentity"}
	th := publishHost(t, rcv, settings, driver.Props{"connection": "Topic"}, func(ctx context.Context, ev azeventgrid.Event, out *extension.Collector[any]) error {
		return out.Add(ctx, `{"specversion":"1.0","id":"c","source":"/s","type":"T","data":1}`)
	})
	if r := th.post("Pub", "Notification", arr(egEvent("x", "s", "{}"))); r.code != 202 {
		t.Fatalf("webhook: %d %q", r.code, r.body)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	auth := reqs[0].header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") || len(auth) < 20 || reqs[0].header.Get("aeg-sas-key") != "" {
		t.Fatal("no bearer token (or a key) on the publish request")
	}
	// The token is for the Event Grid audience. (MSAL caches managed-identity tokens per process,
	// so with -count > 1 it may come from an earlier run's server: read its claims.)
	parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), ".")
	if len(parts) < 2 {
		t.Fatal("the bearer token is not a JWT")
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Aud string `json:"aud"`
	}
	if err := json.Unmarshal(claims, &c); err != nil || c.Aud != "https://eventgrid.azure.net" {
		t.Fatalf("token audience %q (%v), want https://eventgrid.azure.net", c.Aud, err)
	}
	for _, r := range ids.Requests() {
		if r.Resource != "https://eventgrid.azure.net" {
			t.Fatalf("token requested for %q", r.Resource)
		}
	}
}

// Declaration errors: both forms, neither, half of the key form, settings that do not exist.
func TestOutputConfigErrors(t *testing.T) {
	settings := map[string]string{"TopicUri": "https://t.westus2-1.eventgrid.azure.net/api/events", "TopicKey": topicKey, "NotURI": "not a uri", "Topic__topicEndpointUri": "https://t.westus2-1.eventgrid.azure.net/api/events"}
	for _, c := range []struct {
		name  string
		props driver.Props
		want  string
	}{
		{"both", driver.Props{"connection": "Topic", "topicKeySetting": "TopicKey", "topicEndpointUri": "TopicUri"}, "Conflicting Event Grid topic credentials have been set in 'Connection' and 'TopicKeySetting'"},
		{"connection and endpoint", driver.Props{"connection": "Topic", "topicEndpointUri": "TopicUri"}, "Conflicting Event Grid topic endpoints"},
		{"neither", driver.Props{}, "The 'Connection' property or 'TopicEndpointUri' property must be set"},
		{"endpoint without key", driver.Props{"topicEndpointUri": "TopicUri"}, "The 'TopicKeySetting' property must be the name of an application setting containing the Topic Key"},
		{"empty key setting", driver.Props{"topicEndpointUri": "TopicUri", "topicKeySetting": ""}, "The 'TopicKeySetting' property must be the name"},
		{"undefined endpoint setting", driver.Props{"topicEndpointUri": "Nope", "topicKeySetting": "TopicKey"}, `"Nope", which is not defined`},
		{"endpoint not a URI", driver.Props{"topicEndpointUri": "NotURI", "topicKeySetting": "TopicKey"}, "must be a valid absolute Uri"},
		{"undefined key setting", driver.Props{"topicEndpointUri": "TopicUri", "topicKeySetting": "Nope"}, `"Nope", which is not defined`},
		{"undefined connection", driver.Props{"connection": "Missing"}, "Event Grid topic connection string 'Missing' does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := map[string]string{"host.systemKey.eventgrid_extension": testKey}
			for k, v := range settings {
				m[k] = v
			}
			s := connection.NewSettings(connection.FromMap("test", m))
			h, _ := extension.NewHost(extension.HostOptions{Settings: s, Logger: slog.New(slog.DiscardHandler), HostID: "cfg", Storage: extension.NewMemoryStorage()})
			h.Func("Pub", extension.Func(func(ctx context.Context, s string) (string, error) { return s, nil }), eventgrid.Trigger("ev"), eventgrid.Output("$return", c.props))
			err := h.Verify(context.Background())
			if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify: %v\nwant an invalid-config error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), topicKey) {
				t.Fatal("the error shows the topic key")
			}
		})
	}
}

// Events decides the schema from the first item, as the extension does.
func TestEventsSchemaFromFirstItem(t *testing.T) {
	eg := `{"id":"1","subject":"s","eventType":"T","eventTime":"2026-01-01T00:00:00Z","dataVersion":"1","data":null}`
	ce := `{"specversion":"1.0","id":"1","source":"/s","type":"T"}`
	egs, ces, err := eventgrid.Events([]any{eg, json.RawMessage(eg)})
	if err != nil || len(egs) != 2 || ces != nil {
		t.Fatalf("Event Grid batch: %v %d %d", err, len(egs), len(ces))
	}
	egs, ces, err = eventgrid.Events([]any{ce, map[string]any{"specversion": "1.0", "id": "2", "source": "/s", "type": "T"}})
	if err != nil || egs != nil || len(ces) != 2 || ces[1].ID != "2" {
		t.Fatalf("CloudEvents batch: %v %d %d", err, len(egs), len(ces))
	}
	for _, bad := range [][]any{
		{42},
		{`[1]`},
		{`{"specversion":"0.3","id":"1","source":"/s","type":"T"}`},
		{ce, eg},
		{eg, ce},
		{messaging.CloudEvent{ID: "1", Source: "/s", SpecVersion: "1.0", Type: "T"}, azeventgrid.Event{}},
		{azeventgrid.Event{ID: to.Ptr("1")}},
	} {
		if _, _, err := eventgrid.Events(bad); !errors.Is(err, eventgrid.ErrInvalidEvent) {
			t.Errorf("%v: error %v, want ErrInvalidEvent", bad, err)
		}
	}
}

// `azbind connection resolve --check` for an Event Grid connection: an authenticated request is
// accepted whatever the topic thinks of the empty batch; 401/403 mean the key is refused.
func TestCheckConnection(t *testing.T) {
	rcv := newReceiver(t)
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"Topic": "Endpoint=" + rcv.srv.URL + "/api/events;AccessKey=" + topicKey}))
	c, err := connection.NewResolver(settings, &connection.ResolverOptions{ClientOptions: rcv.clientOptions()}).Resolve(context.Background(), "Topic", connection.EventGrid)
	if err != nil {
		t.Fatal(err)
	}
	_, ext, ok := driver.Lookup("eventGrid")
	if !ok || ext.Check == nil {
		t.Fatal("no Check registered for Event Grid connections")
	}
	check := ext.Check
	rcv.answerWith(400, `{"error":{"code":"BadRequest","message":"empty"}}`)
	if err := check(context.Background(), c); err != nil {
		t.Fatalf("400 after authentication: %v", err)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 || reqs[0].header.Get("aeg-sas-key") != topicKey || string(reqs[0].body) != "[]" {
		t.Fatalf("check request: %d requests", len(reqs))
	}
	rcv.answerWith(401, `{"error":{"code":"Unauthorized","message":"bad key"}}`)
	err = check(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "Unauthorized") || strings.Contains(err.Error(), topicKey) {
		t.Fatalf("401: %v", err)
	}
}
