package eventgrid_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/internal/testlog"
)

// testKey is the eventgrid_extension key the test hosts get from their settings.
const testKey = "test-system-key-0123456789abcdefghijklmnopqrstuvwxyz"

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer = testlog.Buffer

// optsResolver is a connection resolver that also hands out its client options (for the
// topicEndpointUri + topicKeySetting form of the output).
type optsResolver struct {
	*connection.Resolver
	opts azcore.ClientOptions
}

func (r optsResolver) ClientOptions() azcore.ClientOptions { return r.opts }

// hostConfig configures startHost.
type hostConfig struct {
	settings map[string]string // app settings (the system key setting is added unless noKey)
	noKey    bool
	storage  extension.HostStorage
	hostID   string
	opts     azcore.ClientOptions // client options of the connection resolver
	declare  func(t *testing.T, h *extension.Host)
	shutdown time.Duration
}

// testHost is a running host served on a loopback httptest server.
type testHost struct {
	t    *testing.T
	h    *extension.Host
	srv  *httptest.Server
	logs *syncBuffer
	run  *testhost.Running
	key  string
}

func startHost(t *testing.T, cfg hostConfig) *testHost {
	t.Helper()
	m := map[string]string{}
	for k, v := range cfg.settings {
		m[k] = v
	}
	if !cfg.noKey {
		m["host.systemKey.eventgrid_extension"] = testKey
	}
	settings := connection.NewSettings(connection.FromMap("test", m))
	logs := &syncBuffer{}
	if cfg.storage == nil {
		cfg.storage = extension.NewMemoryStorage()
	}
	if cfg.hostID == "" {
		cfg.hostID = "egtest"
	}
	h, err := extension.NewHost(extension.HostOptions{
		Settings:        settings,
		Connections:     optsResolver{connection.NewResolver(settings, &connection.ResolverOptions{ClientOptions: cfg.opts}), cfg.opts},
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Storage:         cfg.storage,
		HostID:          cfg.hostID,
		ShutdownTimeout: cfg.shutdown,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.declare(t, h)
	th := &testHost{t: t, h: h, logs: logs, key: testKey}
	th.srv = httptest.NewServer(h.Handler())
	th.run = testhost.Run(t, h, testhost.RunOptions{StopWait: 30 * time.Second})
	t.Cleanup(func() {
		th.stop()
		th.srv.Close()
		if th.key != "" && strings.Contains(logs.String(), th.key) {
			t.Errorf("the system key appears in the host's logs")
		}
	})
	th.waitListening(cfg.storage, cfg.hostID, cfg.noKey)
	return th
}

// waitListening waits until every function of the host answers on the eventgrid webhook (the
// triggers register their endpoints when Run starts them). For a host without the key setting it
// reads the generated key from host storage into th.key.
func (th *testHost) waitListening(storage extension.HostStorage, hostID string, noKey bool) {
	th.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	wait := func() {
		select {
		case <-th.run.Exited():
			th.t.Fatalf("host stopped while starting: %v", th.run.Err())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			th.t.Fatal("the eventgrid endpoints did not start within 10s")
		}
	}
	var names []string
	for names == nil {
		resp, err := http.Get(th.srv.URL + "/admin/host/status")
		if err == nil {
			var st struct {
				Functions []string `json:"functions"`
			}
			if json.NewDecoder(resp.Body).Decode(&st) == nil && len(st.Functions) > 0 {
				names = st.Functions
			}
			resp.Body.Close()
		}
		if names == nil {
			wait()
		}
	}
	if noKey {
		th.key = ""
		for th.key == "" {
			if rec, err := storage.Get(context.Background(), eventgrid.SecretsKey(hostID)); err == nil {
				var doc struct {
					SystemKeys []struct{ Name, Value string } `json:"systemKeys"`
				}
				_ = json.Unmarshal(rec.Data, &doc)
				for _, k := range doc.SystemKeys {
					if k.Name == eventgrid.SystemKeyName {
						th.key = k.Value
					}
				}
			}
			if th.key == "" {
				wait()
			}
		}
	}
	for _, n := range names {
		for {
			r := th.do(http.MethodPost, "/runtime/webhooks/eventgrid?functionName="+n+"&code="+th.key, map[string]string{"aeg-event-type": "Unsubscribe"}, "")
			if r.code == http.StatusAccepted {
				break
			}
			wait()
		}
	}
}

// stop cancels Run and waits for it (once).
func (th *testHost) stop() error { return th.run.Stop() }

// response is a finished HTTP exchange.
type response struct {
	code   int
	body   string
	header http.Header
}

// post sends a request to the function's webhook with the key as code= (unless the query says
// otherwise) and the given aeg-event-type.
func (th *testHost) post(function, eventType, body string) response {
	th.t.Helper()
	return th.do(http.MethodPost, "/runtime/webhooks/eventgrid?functionName="+function+"&code="+th.key, map[string]string{"aeg-event-type": eventType}, body)
}

func (th *testHost) do(method, pathQuery string, headers map[string]string, body string) response {
	th.t.Helper()
	return doRequest(th.t, method, th.srv.URL+pathQuery, headers, body)
}

func doRequest(t testing.TB, method, url string, headers map[string]string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b), header: resp.Header}
}

// egEvent returns an Event Grid schema event as Azure sends it.
func egEvent(id, subject, data string) string {
	return `{"id":"` + id + `","topic":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t1","subject":"` + subject + `","eventType":"Contoso.Items.ItemReceived","eventTime":"2026-01-02T03:04:05.1234567Z","data":` + data + `,"dataVersion":"1.0","metadataVersion":"1"}`
}

// ceEvent returns a structured-mode CloudEvent as Azure sends it.
func ceEvent(id, data string) string {
	return `{"specversion":"1.0","id":"` + id + `","source":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t1","type":"Contoso.Items.ItemReceived","subject":"items/` + id + `","time":"2026-01-02T03:04:05.1234567Z","datacontenttype":"application/json","data":` + data + `}`
}

func arr(events ...string) string { return "[" + strings.Join(events, ",") + "]" }

func triggerSpec() *driver.BindingSpec { return eventgrid.Trigger("ev") }
func outputSpec() *driver.BindingSpec  { return eventgrid.Output("out", keyProps) }
