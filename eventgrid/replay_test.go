package eventgrid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/testhost"
)

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// azureHeaders are the headers Event Grid sends with a delivery.
func azureHeaders(eventType, contentType string) map[string]string {
	return map[string]string{
		"aeg-event-type":        eventType,
		"aeg-subscription-name": "MYSUB",
		"aeg-delivery-count":    "0",
		"aeg-data-version":      "1.0",
		"aeg-metadata-version":  "1",
		"Content-Type":          contentType,
		"User-Agent":            "",
	}
}

// Deliveries replayed byte for byte as Azure sends them: the validation handshake, a storage
// BlobCreated event in both schemas, and a custom topic's batch.
func TestReplayAzurePayloads(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	record := func(fn, s string) {
		mu.Lock()
		got[fn] = append(got[fn], s)
		mu.Unlock()
	}
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Blob", extension.Action(func(ctx context.Context, ev azeventgrid.Event) error {
			data := bindingData(ctx, "data").(map[string]any)
			record("Blob", fmt.Sprintf("%s %s %s %s", *ev.EventType, *ev.Subject, data["url"], data["eTag"]))
			return nil
		}), eventgrid.Trigger("ev"))
		h.Func("BlobCE", extension.Action(func(ctx context.Context, ce messaging.CloudEvent) error {
			record("BlobCE", fmt.Sprintf("%s %s %s", ce.Type, *ce.Subject, ce.Time.UTC().Format(time.RFC3339Nano)))
			return nil
		}), eventgrid.Trigger("ev"))
		h.Func("Vehicles", extension.Action(func(ctx context.Context, evs []azeventgrid.Event) error {
			for _, ev := range evs {
				record("Vehicles", *ev.ID+" "+*ev.Subject)
			}
			return nil
		}), eventgrid.Trigger("ev"))
	}})
	url := func(fn string) string { return "/runtime/webhooks/eventgrid?functionName=" + fn + "&code=" + testKey }

	r := th.do("POST", url("Blob"), azureHeaders("SubscriptionValidation", "application/json; charset=utf-8"), testdata(t, "validation.json"))
	if r.code != 200 || r.body != `{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}` {
		t.Fatalf("validation: %d %q", r.code, r.body)
	}
	if r := th.do("POST", url("Blob"), azureHeaders("Notification", "application/json; charset=utf-8"), testdata(t, "blobcreated-eventgrid.json")); r.code != 202 {
		t.Fatalf("BlobCreated: %d %q", r.code, r.body)
	}
	if r := th.do("OPTIONS", url("BlobCE"), map[string]string{"WebHook-Request-Origin": "eventgrid.azure.net"}, ""); r.code != 200 || r.header.Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" {
		t.Fatalf("CloudEvents handshake: %d", r.code)
	}
	if r := th.do("POST", url("BlobCE"), azureHeaders("Notification", "application/cloudevents-batch+json; charset=utf-8"), testdata(t, "blobcreated-cloudevents.json")); r.code != 202 {
		t.Fatalf("BlobCreated CloudEvent: %d %q", r.code, r.body)
	}
	if r := th.do("POST", url("Vehicles"), azureHeaders("Notification", "application/json"), testdata(t, "custom-topic-batch.json")); r.code != 202 {
		t.Fatalf("custom topic batch: %d %q", r.code, r.body)
	}
	want := map[string][]string{
		"Blob":     {`Microsoft.Storage.BlobCreated /blobServices/default/containers/test-container/blobs/new-file.txt https://my-storage-account.blob.core.windows.net/testcontainer/new-file.txt "0x8D4BCC2E4835CD0"`},
		"BlobCE":   {"Microsoft.Storage.BlobCreated /blobServices/default/containers/test-container/blobs/new-file.txt 2017-06-26T18:41:00.9584103Z"},
		"Vehicles": {"1807 myapp/vehicles/motorcycles", "1808 myapp/vehicles/cars"},
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// Load: 10,000 events posted by 8 concurrent clients in deliveries of 50 reach the function
// exactly once each; the only error answers are the 401s the test provokes with a wrong key.
func TestLoadTenThousandEvents(t *testing.T) {
	const clients, perClient, perRequest = 8, 25, 50
	var counts sync.Map
	var invocations atomic.Int64
	th := startHost(t, hostConfig{declare: func(t *testing.T, h *extension.Host) {
		h.Func("Load", extension.Action(func(ctx context.Context, s []byte) error {
			id, _ := bindingData(ctx, "id").(string)
			n, _ := counts.LoadOrStore(id, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			invocations.Add(1)
			return nil
		}), eventgrid.Trigger("ev"))
	}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	post := func(key string, body []byte) (int, error) {
		req, _ := http.NewRequest("POST", th.srv.URL+"/runtime/webhooks/eventgrid?functionName=Load&code="+key, bytes.NewReader(body))
		req.Header.Set("aeg-event-type", "Notification")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var wg sync.WaitGroup
	var unexpected, provoked atomic.Int64
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range perClient {
				var evs []string
				for i := range perRequest {
					evs = append(evs, egEvent(fmt.Sprintf("c%d-r%d-e%d", c, r, i), "load", fmt.Sprintf(`{"i":%d}`, i)))
				}
				body := []byte(arr(evs...))
				if r%10 == 5 { // provoked: the wrong key, never delivered
					if code, err := post("wrong", body); err != nil || code != 401 {
						t.Errorf("wrong key: %d %v", code, err)
					}
					provoked.Add(1)
				}
				code, err := post(testKey, body)
				if err != nil || code != 202 {
					unexpected.Add(1)
					t.Errorf("delivery c%d r%d: %d %v", c, r, code, err)
				}
			}
		}()
	}
	wg.Wait()
	if unexpected.Load() != 0 {
		t.Fatalf("%d unexpected error answers", unexpected.Load())
	}
	total := clients * perClient * perRequest
	if n := invocations.Load(); n != int64(total) {
		t.Fatalf("%d invocations, want %d", n, total)
	}
	distinct := 0
	counts.Range(func(k, v any) bool {
		distinct++
		if n := v.(*atomic.Int64).Load(); n != 1 {
			t.Errorf("event %v delivered %d times", k, n)
		}
		return true
	})
	if distinct != total || provoked.Load() == 0 {
		t.Fatalf("%d distinct events, want %d (provoked %d)", distinct, total, provoked.Load())
	}
}

// The host's own server bounds request bodies: a delivery over the limit gets 413, declared or
// streamed, and runs nothing.
func TestBodyLimit413(t *testing.T) {
	var invoked atomic.Int64
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"host.systemKey.eventgrid_extension": testKey}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, HostID: "limit", Storage: extension.NewMemoryStorage(),
		HTTPAddr: "127.0.0.1:0", MaxRequestBodyBytes: 1024, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h.Func("Fn", extension.Action(func(ctx context.Context, s string) error { invoked.Add(1); return nil }), eventgrid.Trigger("ev"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var base string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if a := h.Addr(); a != "" {
			base = "http://" + a
			if r := doRequest(t, "GET", base+"/runtime/webhooks/eventgrid", nil, ""); r.code == 401 {
				break
			}
		}
	}
	big := arr(egEvent("big", strings.Repeat("x", 2000), "{}"))
	url := base + "/runtime/webhooks/eventgrid?functionName=Fn&code=" + testKey
	if r := doRequest(t, "POST", url, map[string]string{"aeg-event-type": "Notification"}, big); r.code != 413 {
		t.Fatalf("declared length over the limit: %d", r.code)
	}
	// Streamed (chunked): the webhook reads past the limit and answers 413 itself.
	req, _ := http.NewRequest("POST", url, struct{ *strings.Reader }{strings.NewReader(big)})
	req.Header.Set("aeg-event-type", "Notification")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != 0 && req.ContentLength != -1 {
		t.Fatalf("request was not streamed (length %d)", req.ContentLength)
	}
	if resp.StatusCode != 413 {
		t.Fatalf("streamed body over the limit: %d", resp.StatusCode)
	}
	if r := doRequest(t, "POST", url, map[string]string{"aeg-event-type": "Notification"}, arr(egEvent("small", "s", "{}"))); r.code != 202 {
		t.Fatalf("small delivery: %d", r.code)
	}
	if invoked.Load() != 1 {
		t.Fatalf("%d invocations, want 1 (only the small delivery)", invoked.Load())
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Listen refuses a second endpoint for a function that already listens, and serves it again
// with 503 once stopped.
func TestListenDuplicateFunction(t *testing.T) {
	mux := http.NewServeMux()
	s := testhost.Services(t, extension.HostOptions{Settings: connection.NewSettings(connection.FromMap("t", map[string]string{"host.systemKey.x_extension": "k"})), Mux: mux})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ep := eventgrid.Endpoint{Extension: "x", Function: "F", Deliver: func(context.Context, []json.RawMessage) error { return nil }}
	first := make(chan error, 1)
	go func() { first <- eventgrid.Listen(ctx, s, ep) }()
	status := func() int {
		req := httptest.NewRequest("POST", "/runtime/webhooks/X?functionName=F&code=k", nil)
		req.Header.Set("aeg-event-type", "Unsubscribe")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	for deadline := time.Now().Add(5 * time.Second); status() != 202; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the endpoint did not start")
		}
	}
	if err := eventgrid.Listen(context.Background(), s, ep); err == nil || !strings.Contains(err.Error(), "already listens") {
		t.Fatalf("second Listen: %v", err)
	}
	cancel()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if c := status(); c != 503 {
		t.Fatalf("after Listen returned: %d, want 503", c)
	}
}

// The host's shared values may be closed and opened again on the same Mux (a Mux never forgets a
// pattern): the webhook router is found and reused instead of mounted twice.
func TestListenAgainAfterSharedValuesClosed(t *testing.T) {
	mux := http.NewServeMux()
	s := testhost.Services(t, extension.HostOptions{Settings: connection.NewSettings(connection.FromMap("t", map[string]string{"host.systemKey.eventgrid_extension": "k"})), Mux: mux})
	ep := eventgrid.Endpoint{Extension: "eventgrid", Function: "F", Deliver: func(context.Context, []json.RawMessage) error { return nil }}
	status := func() int {
		req := httptest.NewRequest("POST", "/runtime/webhooks/eventgrid?functionName=F&code=k", nil)
		req.Header.Set("aeg-event-type", "Unsubscribe")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	for round := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- eventgrid.Listen(ctx, s, ep) }()
		for deadline := time.Now().Add(5 * time.Second); status() != 202; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the endpoint did not start", round)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if c := status(); c != 503 {
			t.Fatalf("round %d: after the stop: %d", round, c)
		}
	}
}
