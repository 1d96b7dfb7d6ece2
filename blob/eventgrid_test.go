package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"crypto/rand"
	"encoding/base64"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// egKeySetting is the setting holding the blobs_extension system key in these tests.
const egKeySetting = "host.systemKey.blobs_extension"

// newTestKey returns a fresh webhook key (never printed: tests check it stays out of logs and
// answers).
func newTestKey(t testing.TB) string {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// syncBuf is a log sink safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listCounter is a transport that counts container listings (List Blobs) per container.
type listCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *listCounter) Do(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if q.Get("comp") == "list" && q.Get("restype") == "container" {
		segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
		l.mu.Lock()
		l.n[segs[len(segs)-1]]++
		l.mu.Unlock()
	}
	return http.DefaultClient.Do(req)
}

func (l *listCounter) count(containerName string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[containerName]
}

// blobEventURL is the data.url Event Grid gives for a blob of the test account.
func blobEventURL(containerName, name string) string {
	return blobURI(svc.NewContainerClient(containerName).URL(), name)
}

// sampleEvent returns the BlobCreated sample of the eventgrid package (file, "eventgrid" or
// "cloudevents" schema) for the blob at url with the given eTag as data.eTag (as sent).
func sampleEvent(t testing.TB, schema, url, etag string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../eventgrid/testdata/blobcreated-" + schema + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var evs []map[string]any
	if err := json.Unmarshal(b, &evs); err != nil || len(evs) != 1 {
		t.Fatalf("sample %s: %v", schema, err)
	}
	data := evs[0]["data"].(map[string]any)
	data["url"], data["eTag"] = url, etag
	return evs[0]
}

func jsonText(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// currentETag returns the blob's ETag as Event Grid's data.eTag holds it (without quotes).
func currentETag(t testing.TB, containerName, name string) string {
	t.Helper()
	props, err := svc.NewContainerClient(containerName).NewBlobClient(name).GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(string(*props.ETag), `"`)
}

type webhookResp struct {
	code int
	body string
}

// postEvents posts a Notification to the blobs webhook of base for function with key (as
// code=, or as x-functions-key when header is set).
func postEvents(t testing.TB, base, function, key, contentType, body string, header bool) webhookResp {
	t.Helper()
	u := base + "/runtime/webhooks/blobs?functionName=" + function
	if !header && key != "" {
		u += "&code=" + key
	}
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("aeg-event-type", "Notification")
	req.Header.Set("Content-Type", contentType)
	if header {
		req.Header.Set("x-functions-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if key != "" {
			t.Fatal(strings.ReplaceAll(err.Error(), key, "<key>")) // the URL holds the key
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return webhookResp{resp.StatusCode, string(b)}
}

// waitWebhook waits until function's endpoint answers on the blobs webhook (its trigger's Run
// registers it).
func waitWebhook(t testing.TB, base, function, key string) {
	t.Helper()
	waitFor(t, 10*time.Second, "the blobs webhook endpoint of "+function, func() bool {
		req, _ := http.NewRequest(http.MethodPost, base+"/runtime/webhooks/blobs?functionName="+function+"&code="+key, nil)
		req.Header.Set("aeg-event-type", "Unsubscribe")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted
	})
}

// receiptsOf lists the receipt names of fnID on host hostID for containerName.
func receiptsOf(t testing.TB, hostID, fnID, containerName string) []string {
	t.Helper()
	prefix := "blobreceipts/" + hostID + "/" + fnID + "/"
	pager := svc.NewContainerClient(HostsContainer).NewListBlobsFlatPager(nil)
	var out []string
	for pager.More() {
		p, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Segment.BlobItems {
			if strings.HasPrefix(*it.Name, prefix) && strings.Contains(*it.Name, "/"+containerName+"/") {
				out = append(out, *it.Name)
			}
		}
	}
	return out
}

type egCall struct {
	data string
	meta map[string]any
}

// C35 end to end through extension.Host and its HTTP handler: a blobTrigger with source
// EventGrid does not list its container, runs once per BlobCreated event of its container and
// pattern (Event Grid schema, CloudEvents, batches) with the blob's content and binding data,
// refuses wrong keys and ignores events of other containers.
func TestEventGridSourceEndToEnd(t *testing.T) {
	c, other := unique("egsrc"), unique("egother")
	createContainer(t, c)
	createContainer(t, other)
	key := newTestKey(t)
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{
		"AzureWebJobsStorage": az.ConnectionString,
		egKeySetting:          key,
	}))
	lc := &listCounter{n: map[string]int{}}
	logs := &syncBuf{}
	hostID := unique("h")
	h, err := extension.NewHost(extension.HostOptions{
		Settings:    settings,
		Connections: connection.NewResolver(settings, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: lc}}),
		HostID:      hostID,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan egCall, 16)
	if err := h.Func("Resize", extension.Action(func(ctx context.Context, b []byte) error {
		inv := extension.FromContext(ctx)
		meta := map[string]any{}
		for _, k := range []string{"BlobTrigger", "name", "ext", "Uri", "Properties"} {
			meta[k], _ = inv.Metadata.Lookup(k)
		}
		calls <- egCall{string(b), meta}
		return nil
	}), Trigger("input", c+"/in/{name}.{ext}", driver.Props{"source": "EventGrid"})); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if strings.Contains(logs.String(), key) {
			t.Errorf("the blobs_extension key appears in the host's logs")
		}
		if t.Failed() {
			t.Log(strings.ReplaceAll(logs.String(), key, "<key>"))
		}
	}()
	fn := FunctionID("Resize")
	waitWebhook(t, srv.URL, fn, key)

	// The subscription handshakes of both schemas.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/runtime/webhooks/blobs?functionName="+fn+"&code="+key,
		strings.NewReader(`[{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","subject":"","eventTime":"2026-01-01T00:00:00Z","data":{"validationCode":"abc-123"},"dataVersion":"2","metadataVersion":"1"}]`))
	req.Header.Set("aeg-event-type", "SubscriptionValidation")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal("validation request failed")
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"validationResponse":"abc-123"`) {
			t.Fatalf("SubscriptionValidation: %d %s", resp.StatusCode, b)
		}
	}
	req, _ = http.NewRequest(http.MethodOptions, srv.URL+"/runtime/webhooks/blobs?functionName="+fn+"&code="+key, nil)
	req.Header.Set("WebHook-Request-Origin", "eventgrid.azure.net")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal("OPTIONS request failed")
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" {
			t.Fatalf("CloudEvents OPTIONS: %d, WebHook-Allowed-Origin %q", resp.StatusCode, resp.Header.Get("WebHook-Allowed-Origin"))
		}
	}

	next := func(what string) egCall {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case err := <-done:
			t.Fatalf("host stopped: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out waiting for the invocation for %s", what)
		}
		return egCall{}
	}

	// Event Grid schema, key as code=, data.eTag without quotes.
	upload(t, c, "in/a.txt", []byte("hello"))
	ev := sampleEvent(t, "eventgrid", blobEventURL(c, "in/a.txt"), currentETag(t, c, "in/a.txt"))
	if r := postEvents(t, srv.URL, fn, key, "application/json", jsonText(t, []any{ev}), false); r.code != http.StatusAccepted {
		t.Fatalf("Event Grid schema: %d %s, want 202", r.code, r.body)
	}
	got := next("in/a.txt")
	if got.data != "hello" || got.meta["name"] != "a" || got.meta["ext"] != "txt" || got.meta["BlobTrigger"] != c+"/in/a.txt" ||
		got.meta["Uri"] != blobEventURL(c, "in/a.txt") {
		t.Fatalf("invocation = %+v, want the content hello with name=a ext=txt", got)
	}
	if p, ok := got.meta["Properties"].(Properties); !ok || p.ETag != `"`+currentETag(t, c, "in/a.txt")+`"` || p.ContentLength != 5 {
		t.Fatalf("Properties = %#v", got.meta["Properties"])
	}

	// CloudEvents, structured mode (one object), key as x-functions-key, a quoted data.eTag
	// (as in the documentation's sample) and a name that needs escaping in the URL.
	upload(t, c, "in/b c.json", []byte(`{"b":1}`))
	ce := sampleEvent(t, "cloudevents", blobEventURL(c, "in/b c.json"), `"`+currentETag(t, c, "in/b c.json")+`"`)
	if r := postEvents(t, srv.URL, fn, key, "application/cloudevents+json; charset=utf-8", jsonText(t, ce), true); r.code != http.StatusAccepted {
		t.Fatalf("CloudEvents: %d %s, want 202", r.code, r.body)
	}
	if got := next("in/b c.json"); got.data != `{"b":1}` || got.meta["name"] != "b c" || got.meta["ext"] != "json" {
		t.Fatalf("invocation = %+v, want name=%q ext=json", got, "b c")
	}

	// A wrong key, and no key, get 401 and hand nothing over.
	upload(t, c, "in/d.txt", []byte("d"))
	evD := sampleEvent(t, "eventgrid", blobEventURL(c, "in/d.txt"), currentETag(t, c, "in/d.txt"))
	for _, k := range []string{key[:len(key)-1] + "x", ""} {
		for _, header := range []bool{false, true} {
			if r := postEvents(t, srv.URL, fn, k, "application/json", jsonText(t, []any{evD}), header); r.code != http.StatusUnauthorized {
				t.Fatalf("key %d chars (header %v): %d, want 401", len(k), header, r.code)
			}
		}
	}
	// The function's name alone is not the webhook's functionName (it is its id).
	if r := postEvents(t, srv.URL, "Resize", key, "application/json", jsonText(t, []any{evD}), false); r.code != http.StatusNotFound {
		t.Fatalf("functionName=Resize: %d, want 404", r.code)
	}

	// A batch: an event of another container, one of a blob outside the pattern, a BlobDeleted
	// event and one of the function's: 202, only the last one runs.
	upload(t, other, "in/x.txt", []byte("other"))
	upload(t, c, "out/y.txt", []byte("outside"))
	upload(t, c, "in/e.txt", []byte("e"))
	deleted := sampleEvent(t, "eventgrid", blobEventURL(c, "in/e.txt"), currentETag(t, c, "in/e.txt"))
	deleted["eventType"] = "Microsoft.Storage.BlobDeleted"
	batch := []any{
		sampleEvent(t, "eventgrid", blobEventURL(other, "in/x.txt"), currentETag(t, other, "in/x.txt")),
		sampleEvent(t, "eventgrid", blobEventURL(c, "out/y.txt"), currentETag(t, c, "out/y.txt")),
		deleted,
	}
	if r := postEvents(t, srv.URL, fn, key, "application/json", jsonText(t, batch), false); r.code != http.StatusAccepted {
		t.Fatalf("ignored events: %d %s, want 202", r.code, r.body)
	}
	if r := postEvents(t, srv.URL, fn, key, "application/json", jsonText(t, []any{evD}), false); r.code != http.StatusAccepted {
		t.Fatalf("in/d.txt: %d %s, want 202", r.code, r.body)
	}
	if got := next("in/d.txt"); got.meta["BlobTrigger"] != c+"/in/d.txt" {
		t.Fatalf("invocation for %v, want %s/in/d.txt (the ignored events run nothing)", got.meta["BlobTrigger"], c)
	}
	// Ignored events leave no receipt; handed-over ones one each.
	if r := receiptsOf(t, hostID, fn, other); len(r) != 0 {
		t.Fatalf("receipts for the other container: %v", r)
	}
	if r := receiptsOf(t, hostID, fn, c); len(r) != 3 {
		t.Fatalf("receipts = %v, want 3 (a.txt, b c.json, d.txt)", r)
	}
	select {
	case extra := <-calls:
		t.Fatalf("unexpected invocation %+v", extra)
	default:
	}
	// No scanning: no scanner, not one listing of the container.
	if s := currentScanner(h.Services(), c); s != nil {
		t.Fatalf("a scanner runs for %s", c)
	}
	if n := lc.count(c); n != 0 {
		t.Fatalf("the container was listed %d times, want 0", n)
	}
}

// egServices returns host services with the blobs_extension key setting and an HTTP mux,
// served on a loopback server.
func egServices(t testing.TB, key string) (*driver.Services, string) {
	base := newServices(t, unique("h"))
	h, err := extension.NewHost(extension.HostOptions{
		Settings:    connection.NewSettings(connection.FromMap("test", map[string]string{egKeySetting: key})),
		Logger:      base.Logger,
		HostID:      base.HostID,
		Connections: base.Connections,
		Storage:     extension.NewMemoryStorage(),
		Concurrency: base.Concurrency,
	})
	if err != nil {
		t.Fatal(err)
	}
	host := h.Services()
	host.HostID = base.HostID // set by Run, which these tests do not call
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return host, srv.URL
}

// startEGTrigger builds a blobTrigger with source EventGrid; hook, when set, runs before each
// hand-over's enqueue.
func startEGTrigger(t testing.TB, host *driver.Services, fn, path string, exec driver.Executor, cfg map[string]any, hook func(context.Context, *Message) error) *running {
	t.Helper()
	spec := Trigger("input", path, driver.Props{"source": "EventGrid"})
	tr, err := newTrigger(context.Background(), bindContext(fn, spec, host, reflect.TypeFor[[]byte](), cfg))
	if err != nil {
		t.Fatalf("newTrigger: %v", err)
	}
	tr.(*trigger).handOverHook = hook
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{}), trig: tr.(*trigger)}
	go func() { r.err = tr.Run(ctx, exec); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
			if r.err != nil {
				t.Errorf("Run: %v", r.err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30 s of cancellation")
		}
	})
	return r
}

// A failed hand-over answers 500 (Event Grid delivers again) and leaves no message; the
// redelivery hands the blob over; a further redelivery of the handed-over version enqueues
// nothing (its receipt is complete).
func TestEventGridSourceHandOverFailure(t *testing.T) {
	c := unique("egfail")
	createContainer(t, c)
	key := newTestKey(t)
	host, base := egServices(t, key)
	rec := newRecorder()
	var enqueues, failNext atomic.Int64
	failNext.Store(1)
	startEGTrigger(t, host, "Fragile", c+"/{name}", rec, nil, func(context.Context, *Message) error {
		enqueues.Add(1)
		if failNext.Add(-1) >= 0 {
			return errors.New("queue unavailable (injected)")
		}
		return nil
	})
	fn := FunctionID("Fragile")
	waitWebhook(t, base, fn, key)
	upload(t, c, "a.txt", []byte("v1"))
	body := jsonText(t, []any{sampleEvent(t, "eventgrid", blobEventURL(c, "a.txt"), currentETag(t, c, "a.txt"))})

	r := postEvents(t, base, fn, key, "application/json", body, false)
	// The caller gets the extension's text; the cause goes to the host log.
	if r.code != http.StatusInternalServerError || r.body != "Exception while executing function: "+fn || strings.Contains(r.body, key) {
		t.Fatalf("failed hand-over: %d %q, want 500 with the extension's text", r.code, r.body)
	}
	resp, err := qsvc.NewQueueClient(InternalQueueName(host.HostID)).GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := deref(resp.ApproximateMessagesCount); n != 0 || rec.total() != 0 {
		t.Fatalf("after a failed hand-over: %d queued, %d invocations; want none", n, rec.total())
	}

	if r := postEvents(t, base, fn, key, "application/json", body, false); r.code != http.StatusAccepted {
		t.Fatalf("redelivery: %d %s, want 202", r.code, r.body)
	}
	waitFor(t, 15*time.Second, "the invocation after redelivery", func() bool { return rec.count(c+"/a.txt") == 1 })
	if n := enqueues.Load(); n != 2 {
		t.Fatalf("enqueue attempts = %d, want 2", n)
	}
	if r := postEvents(t, base, fn, key, "application/json", body, false); r.code != http.StatusAccepted {
		t.Fatalf("second redelivery: %d %s, want 202", r.code, r.body)
	}
	if n := enqueues.Load(); n != 2 {
		t.Fatalf("a redelivered event of a handed-over version was enqueued again (%d attempts)", n)
	}
	// A new version (new ETag) is handed over again.
	upload(t, c, "a.txt", []byte("v2"))
	body2 := jsonText(t, []any{sampleEvent(t, "eventgrid", blobEventURL(c, "a.txt"), currentETag(t, c, "a.txt"))})
	if r := postEvents(t, base, fn, key, "application/json", body2, false); r.code != http.StatusAccepted {
		t.Fatalf("new version: %d %s, want 202", r.code, r.body)
	}
	waitFor(t, 15*time.Second, "the invocation for the new version", func() bool { return rec.count(c+"/a.txt") == 2 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := string(rec.datas[0]) + "," + string(rec.datas[1]); got != "v1,v2" {
		t.Fatalf("contents = %s, want v1,v2", got)
	}
}

// A failing function goes to the poison queue after poisonBlobThreshold attempts, as for scans.
func TestEventGridSourcePoison(t *testing.T) {
	c := unique("egpoison")
	createContainer(t, c)
	key := newTestKey(t)
	host, base := egServices(t, key)
	rec := newRecorder()
	rec.fail = func(*driver.Event) error { return errors.New("boom") }
	startEGTrigger(t, host, "EGPoisoned", c+"/{name}", rec, map[string]any{"poisonBlobThreshold": float64(3)}, nil)
	fn := FunctionID("EGPoisoned")
	waitWebhook(t, base, fn, key)
	upload(t, c, "bad.json", []byte(`{}`))
	etag := currentETag(t, c, "bad.json")
	if r := postEvents(t, base, fn, key, "application/json", jsonText(t, []any{sampleEvent(t, "eventgrid", blobEventURL(c, "bad.json"), etag)}), false); r.code != http.StatusAccepted {
		t.Fatalf("%d %s, want 202 (the hand-over succeeded; the invocation runs later)", r.code, r.body)
	}
	pq := qsvc.NewQueueClient(PoisonQueueName)
	var found *Message
	waitFor(t, 30*time.Second, "poison message", func() bool {
		resp, err := pq.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
		if err != nil {
			return false
		}
		for _, m := range resp.Messages {
			if msg, err := DecodeMessage(*m.MessageText); err == nil && msg.ContainerName == c {
				found = msg
				return true
			}
		}
		return false
	})
	want := Message{Type: "BlobTrigger", FunctionID: fn, BlobType: "BlockBlob", ContainerName: c, BlobName: "bad.json", ETag: `"` + etag + `"`}
	if *found != want {
		t.Fatalf("poison message = %+v, want %+v", *found, want)
	}
	if n := rec.count(c + "/bad.json"); n != 3 {
		t.Fatalf("attempts = %d, want poisonBlobThreshold = 3", n)
	}
}

// C35 at load: source EventGrid loads; it is not "not supported" any more. (Its blobs_extension
// key — a setting, or durable host storage to keep a generated one — is checked by the runtime
// when the route mounts: eventgrid's TestSystemKeyNeedsSettingOrDurableStorage.)
func TestEventGridSourceLoad(t *testing.T) {
	host, _ := egServices(t, newTestKey(t))
	for _, src := range []string{"EventGrid", "eventgrid"} {
		spec := Trigger("input", "ccc/{name}", driver.Props{"source": src})
		tr, err := newTrigger(context.Background(), bindContext("EG", spec, host, nil, nil))
		if err != nil || !tr.(*trigger).eventGrid {
			t.Fatalf("source %q: %v", src, err)
		}
	}
}

func TestBlobFromURL(t *testing.T) {
	const azurite = "http://127.0.0.1:10000/devstoreaccount1/"
	for _, tc := range []struct {
		url, service, container, name string
		ok                            bool
	}{
		{"https://acct.blob.core.windows.net/c/dir/b.txt", "https://acct.blob.core.windows.net/", "c", "dir/b.txt", true},
		{"https://acct.blob.core.windows.net/c/a%20b%2Bc.txt", azurite, "c", "a b+c.txt", true},
		{"https://acct.blob.core.windows.net/c/a+b.txt", azurite, "c", "a+b.txt", true},
		{"http://127.0.0.1:10000/devstoreaccount1/c/b", azurite, "c", "b", true},
		{"http://localhost:10000/devstoreaccount1/c/x/y", "http://localhost:10000/devstoreaccount1", "c", "x/y", true},
		{"http://10.0.0.5:10000/acct/c/b", azurite, "c", "b", true},
		{"http://azurite:10000/devstoreaccount1/c/b", "http://azurite:10000/devstoreaccount1/", "c", "b", true},
		{"https://acct.blob.core.windows.net/c", azurite, "", "", false},
		{"https://acct.blob.core.windows.net/c/", azurite, "", "", false},
		{"http://127.0.0.1:10000/devstoreaccount1/c", azurite, "", "", false},
		{"", azurite, "", "", false},
		{"not a url", azurite, "", "", false},
	} {
		c, n, ok := blobFromURL(tc.url, tc.service)
		if c != tc.container || n != tc.name || ok != tc.ok {
			t.Errorf("blobFromURL(%q, %q) = %q, %q, %v; want %q, %q, %v", tc.url, tc.service, c, n, ok, tc.container, tc.name, tc.ok)
		}
	}
}

var _ policy.Transporter = (*listCounter)(nil)
